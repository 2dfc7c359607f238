"""The facts planted in the memory evaluation's synthetic histories, and how each is asked.

A fact family is one thing a user tells an agent (their sister's name, a ticket number,
where they live).  Each has one or more stages: a single statement, or for facts that
change, an older statement and the newer one that supersedes it.  Every stage is said in
the conversation and written down as an archival note; the two questions always target
the newest stage, so an older statement is a distractor that looks just as relevant.

The two question styles pull in opposite directions on purpose:

- keyword: what an agent types when it has a name or code in hand ("ticket ZX-4471"); a
  keyword index matches it exactly, an embedding of a code is fuzzy;
- paraphrase: the same need in other words ("which drink gets me going in the morning"
  for "I've been living on oolong before work"); it shares no keyword with the statement
  or the note (checked when the data is built), so only meaning can find it.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

KINDS = ("name", "date", "preference", "code", "update")

# Values are drawn without replacement per user, and filler avoids the user's planted
# values, so a rare name or a code points to exactly one planted fact.
# Sisters and the friends of the chit-chat ("her new puppy") are women; anyone can be a boss.
WOMEN = (
    "Priya", "Ingrid", "Marguerite", "Oksana", "Fenella", "Saoirse", "Ximena", "Ottoline",
    "Anouk", "Wilhelmina", "Imogen", "Svetlana", "Rosalind", "Henrike", "Marisol", "Agnieszka",
)  # fmt: skip
FIRST_NAMES = (
    *WOMEN, "Tomasz", "Yusuf", "Desmond", "Ravi", "Leopold", "Casimir", "Thaddeus",
    "Benedikt", "Kwame", "Ignatius", "Emeka", "Lucian", "Florian", "Cormac",
)  # fmt: skip
SURNAMES = (
    "Whitcombe", "Okonkwo", "Haverford", "Lindqvist", "Abernethy", "Castellanos", "Nakamura",
    "Fairweather", "Brzezinski", "Oyelaran", "Pemberton", "Vasquez-Moreno", "Thistlewood",
    "Achterberg", "Quenneville", "Marchetti", "Ellingsworth", "Radcliffe", "Szabo", "Dunmore",
)  # fmt: skip
PET_NAMES = (
    "Biscuit", "Pretzel", "Mochi", "Waffles", "Pickle", "Juniper", "Bramble", "Noodle",
    "Clementine", "Pippin", "Sprocket", "Tofu", "Marmalade", "Gnocchi", "Haggis", "Ziggy",
)  # fmt: skip
BREEDS = (
    "beagle", "corgi", "greyhound", "dachshund", "border collie", "whippet", "spaniel",
    "labrador", "terrier", "poodle",
)  # fmt: skip
CITIES = (
    "Leeds", "Porto", "Ljubljana", "Tallinn", "Valencia", "Bristol", "Gdansk", "Utrecht",
    "Bergen", "Lyon", "Malmo", "Cork", "Bologna", "Ghent", "Aarhus", "Graz",
)  # fmt: skip
COMPANIES = (
    "Northwind Logistics", "Brightline Labs", "Copperleaf Insurance", "Halcyon Robotics",
    "Tidewater Foods", "Quillstone Media", "Ferrovia Rail", "Bluefin Analytics",
    "Harrowgate Printing", "Orchid Biotech", "Kestrel Aerospace", "Lumen Hospitality",
)  # fmt: skip
JOBS = (
    "data analyst", "product designer", "staff nurse", "site engineer", "copywriter",
    "project coordinator", "lab technician", "accountant", "translator", "sous chef",
)  # fmt: skip
TEAS = (
    "oolong", "genmaicha", "rooibos", "yerba mate", "hojicha", "masala chai", "sencha",
    "pu-erh", "earl grey", "lapsang souchong",
)  # fmt: skip
DISHES = (
    "bibimbap", "shakshuka", "pierogi", "moussaka", "jollof rice", "tonkotsu ramen", "paella",
    "khachapuri", "pad see ew", "laksa", "goulash", "cacio e pepe",
)  # fmt: skip
BANDS = (
    "Khruangbin", "Fleetwood Mac", "Radiohead", "Portishead", "Bonobo", "ABBA", "Tame Impala",
    "Nina Simone", "Kraftwerk", "Massive Attack", "Bjork", "Talking Heads",
)  # fmt: skip
ALLERGENS = ("shellfish", "sesame", "kiwi", "walnuts", "mustard", "celery", "lupin", "cashews")
PARTNERS = ("Sam", "Alex", "Jordan", "Robin", "Morgan", "Jamie", "Charlie", "Kit")
DESTINATIONS = ("Lisbon", "Reykjavik", "Naples", "Krakow", "Seville", "Dubrovnik", "Riga")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


class Draw:
    """Seeded value picker for one user: never hands out the same value twice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def pick(self, pool: Sequence[str]) -> str:
        free = [value for value in pool if value not in self.taken]
        if not free:
            raise ValueError(f"value pool exhausted ({pool[0]!r}, ...): add values to it")
        value = self.rng.choice(free)
        self.taken.add(value)
        return value

    def other(self, pool: Sequence[str]) -> str:
        """A value for filler: any one this user's facts do not use."""
        return self.rng.choice([value for value in pool if value not in self.taken])

    def letters(self, n: int) -> str:
        return "".join(self.rng.choice(string.ascii_uppercase) for _ in range(n))

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice(string.digits) for _ in range(n))

    def code(self, make: Callable[[], str]) -> str:
        """A new code for a fact, kept from then on."""
        value = self.unused(make)
        self.taken.add(value)
        return value

    def unused(self, make: Callable[[], str]) -> str:
        """A code for filler: never one of this user's fact codes."""
        while (value := make()) in self.taken:
            pass
        return value

    def date(self) -> dict[str, str]:
        return {"month": self.rng.choice(MONTHS), "day": str(self.rng.randint(1, 28))}


@dataclass(frozen=True)
class Stage:
    """One statement of a fact: conversation wordings and archival-note wordings."""

    said: tuple[str, ...]
    noted: tuple[str, ...]


@dataclass(frozen=True)
class Family:
    """One kind of fact a user can tell; templates use ``{field}`` names from ``values``."""

    topic: str
    kind: str
    stages: tuple[Stage, ...]
    keyword: tuple[str, ...]
    paraphrase: tuple[str, ...]
    values: Callable[[Draw], dict[str, str]]


def _one(said: Sequence[str], noted: Sequence[str]) -> tuple[Stage, ...]:
    return (Stage(tuple(said), tuple(noted)),)


FAMILIES: tuple[Family, ...] = (
    Family(
        "pet", "name",
        _one(
            ["Our new puppy is called {pet}, a little {breed} who chews everything.",
             "We adopted a {breed} last weekend and named him {pet}."],
            ["User has a {breed} called {pet}."],
        ),
        keyword=("{pet}",),
        paraphrase=("what animal shares my house", "which four-legged companion stays with me"),
        values=lambda d: {"pet": d.pick(PET_NAMES), "breed": d.pick(BREEDS)},
    ),
    Family(
        "sister", "name",
        _one(
            ["My sister {sis} is flying in from {place} next week.",
             "{sis}, my little sister, just got into medical school!"],
            ["User's sister: {sis}."],
        ),
        keyword=("{sis}",),
        paraphrase=("female sibling", "who is the girl I grew up with as family"),
        values=lambda d: {"sis": d.pick(WOMEN), "place": d.pick(DESTINATIONS)},
    ),
    Family(
        "manager", "name",
        _one(
            ["My boss {mgr} wants the quarterly report by Friday, as usual.",
             "{mgr}, who I report to, finally approved my leave!"],
            ["{mgr} is the user's line manager."],
        ),
        keyword=("{mgr}",),
        paraphrase=("who supervises me at my job", "person in charge of me at the office"),
        values=lambda d: {"mgr": f"{d.pick(FIRST_NAMES)} {d.pick(SURNAMES)}"},
    ),
    Family(
        "doctor", "name",
        _one(
            ["Dr {doc} says my knee needs three more weeks of rest.",
             "Saw Dr {doc} about the knee again, more physio for me."],
            ["Knee trouble; seeing Dr {doc}."],
        ),
        keyword=("Dr {doc}",),
        paraphrase=("which medic looks after my hurt leg", "physician treating my joint injury"),
        values=lambda d: {"doc": d.pick(SURNAMES)},
    ),
    Family(
        "birthday", "date",
        _one(
            ["My birthday is on {month} {day}, turning {age}!",
             "Note to self: birthday on {month} {day}, I want a proper cake this time."],
            ["Birthday: {month} {day}."],
        ),
        keyword=("birthday",),
        paraphrase=("what date was I born", "when do I get a year older"),
        values=lambda d: {**d.date(), "age": str(d.rng.randint(26, 58))},
    ),
    Family(
        "anniversary", "date",
        _one(
            ["{partner} and I celebrate our wedding anniversary on {month} {day}."],
            ["Wedding anniversary with {partner}: {month} {day}."],
        ),
        keyword=("wedding anniversary",),
        paraphrase=("when did I get married", "date I tied the knot"),
        values=lambda d: {**d.date(), "partner": d.pick(PARTNERS)},
    ),
    Family(
        "dentist", "date",
        _one(
            ["The dentist moved my cleaning to {month} {day} at {hour}.",
             "Dentist appointment is now {month} {day}, {hour}, ugh."],
            ["Dental cleaning booked: {month} {day}, {hour}."],
        ),
        keyword=("dentist appointment",),
        paraphrase=("when are my teeth getting checked", "mouth checkup timing"),
        values=lambda d: {**d.date(), "hour": f"{d.rng.randint(8, 11)}:{d.rng.choice('03')}0am"},
    ),
    Family(
        "tea", "preference",
        _one(
            ["I've been living on {tea} before work lately.",
             "Nothing gets me going quite as well as a pot of {tea} at 7am."],
            ["Relies on {tea} to get going each day."],
        ),
        keyword=("{tea}",),
        paraphrase=("what do I like to drink in the morning", "favourite beverage to wake up"),
        values=lambda d: {"tea": d.pick(TEAS)},
    ),
    Family(
        "food", "preference",
        _one(
            ["Honestly I could eat {dish} every single night.",
             "If I could only have one thing for dinner forever it would be {dish}."],
            ["Could happily have {dish} for every dinner."],
        ),
        keyword=("{dish}",),
        paraphrase=("what is my favourite meal", "which cuisine do I crave most"),
        values=lambda d: {"dish": d.pick(DISHES)},
    ),
    Family(
        "music", "preference",
        _one(
            ["Had {band} on repeat the whole drive home.",
             "Got tickets to see {band} live, I've loved them since school."],
            ["Big fan of {band}."],
        ),
        keyword=("{band}",),
        paraphrase=("which musicians do I listen to most", "artist I enjoy hearing"),
        values=lambda d: {"band": d.pick(BANDS)},
    ),
    Family(
        "allergy", "preference",
        _one(
            ["Keep me away from {allergen}, my throat swells up.",
             "Turns out I'm allergic to {allergen}, so no more of that."],
            ["Allergy: {allergen}."],
        ),
        keyword=("{allergen}",),
        paraphrase=("what food makes me ill", "ingredient to avoid when cooking for me"),
        values=lambda d: {"allergen": d.pick(ALLERGENS)},
    ),
    Family(
        "ticket", "code",
        _one(
            ["Support opened ticket {ticket} for the billing mix-up.",
             "The helpdesk says ticket {ticket} covers the double charge."],
            ["Billing dispute tracked as {ticket}."],
        ),
        keyword=("ticket {ticket}", "{ticket} status"),
        paraphrase=("what reference did customer service give me for the invoice problem",),
        values=lambda d: {"ticket": d.code(lambda: f"{d.letters(2)}-{d.digits(4)}")},
    ),
    Family(
        "plate", "code",
        _one(
            ["The new car's plate is {plate}, still getting used to it.",
             "Registered the car today, plate {plate}."],
            ["Car registration {plate}."],
        ),
        keyword=("plate {plate}", "{plate}"),
        paraphrase=("letters and digits that identify my automobile",),
        values=lambda d: {"plate": d.code(lambda: f"{d.letters(2)}{d.digits(2)} {d.letters(3)}")},
    ),
    Family(
        "locker", "code",
        _one(
            ["My gym locker is number {locker}, combination {combo}.",
             "Got locker {locker} at the gym, the combination is {combo}."],
            ["Gym locker {locker}, combo {combo}."],
        ),
        keyword=("locker combination", "locker {locker}"),
        paraphrase=("how do I open my cabinet at the fitness club",),
        values=lambda d: {"locker": d.code(lambda: d.digits(3)), "combo": d.digits(4)},
    ),
    Family(
        "flight", "code",
        _one(
            ["Booked flight {flight} to {dest} on {month} {day}.",
             "Flight {flight} to {dest} leaves {month} {day} at dawn."],
            ["Travel: {flight} to {dest}, {month} {day}."],
        ),
        keyword=("flight {flight}", "{flight} booking"),
        paraphrase=("when does my plane take off for the holiday",),
        values=lambda d: {
            **d.date(),
            "flight": d.code(lambda: f"{d.letters(2)}{d.digits(3)}"),
            "dest": d.pick(DESTINATIONS),
        },
    ),
    Family(
        "city", "update",
        (
            Stage(
                ("I live in {old}, ten minutes from the river.",
                 "Life in {old} is good, I love my street."),
                ("Lives in {old}.",),
            ),
            Stage(
                ("Since the move I live in {new}; the flat is tiny but sunny.",
                 "We finally moved, I live in {new} now, boxes everywhere."),
                ("Moved: now lives in {new}.",),
            ),
        ),
        keyword=("where do I live", "moved city"),
        paraphrase=("which town is home for me at the moment",),
        values=lambda d: {"old": d.pick(CITIES), "new": d.pick(CITIES)},
    ),
    Family(
        "job", "update",
        (
            Stage(
                ("My job at {old_co} is fine, I'm a {old_job} there.",),
                ("Works at {old_co} as a {old_job}.",),
            ),
            Stage(
                ("New job! I'm a {new_job} at {new_co} from Monday.",
                 "Signed for the new job: I start at {new_co} as a {new_job} next week."),
                ("Changed jobs: now a {new_job} at {new_co}.",),
            ),
        ),
        keyword=("job", "new job"),
        paraphrase=("who employs me currently",),
        values=lambda d: {
            "old_co": d.pick(COMPANIES),
            "old_job": d.pick(JOBS),
            "new_co": d.pick(COMPANIES),
            "new_job": d.pick(JOBS),
        },
    ),
    Family(
        "door", "update",
        (
            Stage(("The door code for our building is {old}.",), ("Building door code {old}.",)),
            Stage(
                ("They changed the building door code, it's {new} now.",
                 "New door code for the building: {new}."),
                ("Building door code changed to {new}.",),
            ),
        ),
        keyword=("door code",),
        paraphrase=("what digits unlock the entrance downstairs",),
        values=lambda d: {"old": d.code(lambda: d.digits(4)), "new": d.code(lambda: d.digits(4))},
    ),
)  # fmt: skip
