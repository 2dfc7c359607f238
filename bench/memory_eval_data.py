"""Synthetic multi-session histories for the memory evaluation, built from a seed.

Each user talks to their agent over ``sessions`` sessions a few days apart, 20 to 40
messages each, mostly chit-chat.  The facts of ``memory_eval_facts`` are planted at random
turns (an update's older statement in the first third of the sessions, the newer one in
the second half), and the agent writes an archival note for every fact and for some of the
chit-chat.  The chit-chat is built to be a distractor for both search modes: it reuses the
fact words in other contexts (a friend's birthday, a parcel's tracking code, a coworker's
favourite tea) and talks about the same subjects in other words.

Everything is deterministic for a given seed, so runs are comparable across commits.
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bench.memory_eval_facts import (
    BANDS,
    BREEDS,
    CITIES,
    DESTINATIONS,
    DISHES,
    FAMILIES,
    FIRST_NAMES,
    MONTHS,
    PET_NAMES,
    SURNAMES,
    TEAS,
    WOMEN,
    Draw,
    Family,
)
from engram.store.messages import STOP_WORDS

FIRST_SESSION = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)

SHOWS = ("Severance", "The Bear", "Slow Horses", "Shogun", "Detectorists", "Taskmaster")
BOOKS = ("Piranesi", "The Overstory", "Middlemarch", "Station Eleven", "Klara and the Sun")
SPORTS = ("football", "rugby", "tennis", "cricket", "basketball", "cycling")
HOBBIES = ("pottery", "bouldering", "sourdough baking", "birdwatching", "woodworking", "chess")
TOPICS = ("medieval history", "deep sea creatures", "urban planning", "volcanoes", "old maps")
RELATIONS = ("cousin", "aunt", "flatmate", "neighbour", "old schoolfriend", "niece")
TEAMS = ("marketing", "sales", "platform", "legal", "customer success")
INSTRUMENTS = ("drums", "trumpet", "violin", "recorder", "bagpipes")
DRINKS = ("espresso", "flat white", "hot chocolate", "kombucha", "matcha latte")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# (what the user says, the archival note an agent might write about it, or None).
CHITCHAT: tuple[tuple[str, str | None], ...] = (
    ("The forecast says rain all {weekday}, so much for the picnic.", None),
    ("Did you catch the new season of {show}? The finale was wild.", "User watches {show}."),
    ("I'm halfway through {book} and can't put it down.", "User is reading {book}."),
    ("My coworker swears by {tea} but I find it way too bitter.", "Coworker drinks {tea}."),
    ("We tried a new place that does {dish}; it was okay, a bit salty.", None),
    ("{friend} dragged me to a {band} tribute night, surprisingly fun.", "Saw a {band} tribute."),
    ("The printer at the office jammed again, IT logged it as {code}.", "Printer fault {code}."),
    ("My neighbour's {breed} {pet} barked all night.", "Neighbour's {breed} {pet} is noisy."),
    ("Traffic on the ring road was awful this morning.", None),
    ("I'm thinking about taking up {hobby} this spring.", "Considering {hobby}."),
    ("{friend}'s birthday party was on Saturday, I still owe her a present.", None),
    ("My cousin's wedding is in {month}, I need to find a suit.", "Cousin's wedding: {month}."),
    ("The dentist down the road closed, there's a bakery there now.", None),
    ("{colleague} from finance keeps booking meetings at 8am.", None),
    ("Any tips for sleeping better? I keep waking up at 4.", None),
    ("Watched the {sport} final last night, what a comeback.", None),
    ("Cooked {dish} for friends, half of it burned.", "Tried cooking {dish}."),
    ("I need to renew my passport before {month}.", "Passport renewal due before {month}."),
    ("The bike shop quoted me {num} euros for a new chain.", None),
    ("Ordered a parcel, tracking number {code}, it's stuck in customs.", "Parcel {code} held."),
    ("Some car with the plate {plate} parked across two spaces again.", None),
    ("My {relation} {friend} is moving to {city} for work.", "{friend} is moving to {city}."),
    ("{colleague} got promoted to manager of the {team} team.", "{colleague} manages {team}."),
    ("The gym changed its opening hours again, so annoying.", None),
    ("My old flatmate {friend} still lives in {city}.", None),
    ("Work has been hectic, three deadlines this week.", None),
    ("I might switch phone plans, mine costs {num} a month.", None),
    ("Is it weird that I enjoy ironing?", None),
    ("Found a great podcast about {topic}.", "Likes a podcast about {topic}."),
    ("We're planning a hike in the hills in {month}.", None),
    ("The kids next door are learning the {instrument}, loudly.", None),
    ("I finally fixed the leaky tap in the kitchen.", None),
    ("Had a long call with {friend} about her new {breed} puppy.", "{friend} got a {breed}."),
    ("Our team lunch was {dish} again, I'm getting tired of it.", None),
    ("{friend} recommended {band}, not really my thing.", "Not keen on {band}."),
    ("The coffee machine at work broke, everyone's on {drink} instead.", None),
    ("My {relation} flew to {dest} on {flight}, landed safely.", None),
    ("The landlord finally replaced the boiler.", None),
    ("The waiting room at the clinic was packed, an hour for a flu jab.", None),
    ("Spent the weekend painting the spare room green.", None),
    ("Did a {num}k run this morning, legs are jelly.", None),
    ("Support never replied about the broken kettle, ticket {code} is still open.", None),
    ("The locker room at the pool smells of chlorine.", None),
    ("{friend} and her husband spent their anniversary in {dest}.", None),
    ("My job involves way too many spreadsheets.", None),
    ("Thinking of visiting {dest} next year, any ideas?", "Might visit {dest}."),
    ("{colleague} asked me to cover the {team} meeting on {weekday}.", None),
    ("Grabbed a {drink} on the way in, needed it.", None),
    ("IT closed ticket {code} without fixing anything, classic.", "IT ticket {code} closed."),
    ("Booked {friend} a taxi to the airport for flight {flight}.", None),
    ("Someone left locker {locker} at the pool wide open again.", None),
    ("A van, plate {plate}, has been parked outside for a week.", "Van {plate} parked outside."),
)
OPENERS = ("", "", "", "", "Random thought: ", "Okay so ", "Quick one: ", "Hey! ", "Ugh. ")
CLOSERS = ("", "", "", "", " Anyway.", " Long day.", " Not sure why I'm telling you this.")
REPLIES = (
    "That sounds frustrating, I hope it settles down soon.",
    "Oh nice, how did it go?",
    "Ha, I can imagine.",
    "Want me to remind you about that later?",
    "That's a good plan.",
    "Fingers crossed for you!",
    "Tell me more about it.",
    "Sounds like a busy week, take it easy.",
    "Interesting! What did you think of it?",
    "Oof, that's annoying.",
    "I'd love to hear how that turns out.",
    "That's a lot to juggle.",
    "Good for you!",
    "Hmm, have you tried talking to them about it?",
    "That made me smile.",
    "Makes sense to me.",
)
ACKNOWLEDGEMENTS = (
    "Good to know, I'll keep that in mind.",
    "Got it, noted.",
    "Thanks for telling me!",
    "Oh, lovely!",
    "I'll remember that.",
    "Noted for later.",
)


@dataclass(frozen=True)
class Turn:
    """One message; ``key`` names the fact statement it plants, if any."""

    role: str
    text: str
    at: datetime
    key: str | None = None


@dataclass(frozen=True)
class Note:
    """One archival passage; ``key`` as for ``Turn``."""

    text: str
    at: datetime
    tags: tuple[str, ...]
    key: str | None = None


@dataclass(frozen=True)
class Question:
    """A search an agent would make; ``target`` is the key of the newest statement."""

    text: str
    style: str  # "keyword" or "paraphrase"
    kind: str
    topic: str
    target: str


@dataclass
class UserHistory:
    name: str
    turns: list[Turn] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    questions: list[Question] = field(default_factory=list)


def build_users(users: int, sessions: int, seed: int) -> list[UserHistory]:
    """``users`` independent histories; raises ValueError if a template breaks its style."""
    rng = random.Random(seed)
    histories = [
        build_user(f"user-{i + 1}", random.Random(rng.random()), sessions) for i in range(users)
    ]
    for history in histories:
        check_questions(history)
    return histories


def build_user(name: str, rng: random.Random, sessions: int) -> UserHistory:
    draw = Draw(rng)
    values = {family.topic: family.values(draw) for family in FAMILIES}
    plan = _plan_statements(rng, sessions)
    history = UserHistory(name)
    start = FIRST_SESSION
    for session in range(sessions):
        start += timedelta(days=rng.randint(2, 5), hours=rng.randint(-3, 3))
        planted = plan.get(session, [])
        exchanges = max(rng.randint(10, 20), len(planted))
        slots = dict(zip(rng.sample(range(exchanges), len(planted)), planted, strict=True))
        at = start
        for slot in range(exchanges):
            at += timedelta(seconds=rng.randint(20, 150))
            if slot in slots:
                family, stage = slots[slot]
                _plant(history, rng, family, stage, values[family.topic], at)
            else:
                _chat(history, draw, at)
            at += timedelta(seconds=rng.randint(5, 40))
    for family in FAMILIES:
        target = f"{family.topic}#{len(family.stages) - 1}"
        for style, wordings in (("keyword", family.keyword), ("paraphrase", family.paraphrase)):
            text = rng.choice(wordings).format(**values[family.topic])
            history.questions.append(Question(text, style, family.kind, family.topic, target))
    return history


def _plan_statements(rng: random.Random, sessions: int) -> dict[int, list[tuple[Family, int]]]:
    """session -> the (family, stage) statements made in it; updates come late."""
    plan: dict[int, list[tuple[Family, int]]] = {}
    for family in FAMILIES:
        if len(family.stages) == 1:
            chosen = [rng.randrange(sessions)]
        else:
            early = rng.randrange(max(1, sessions // 3))
            chosen = [early, rng.randrange(max(early + 1, sessions // 2), max(sessions, early + 2))]
        for stage, session in enumerate(chosen):
            plan.setdefault(min(session, sessions - 1), []).append((family, stage))
    return plan


def _plant(
    history: UserHistory,
    rng: random.Random,
    family: Family,
    stage: int,
    values: dict[str, str],
    at: datetime,
) -> None:
    key = f"{family.topic}#{stage}"
    said = rng.choice(family.stages[stage].said).format(**values)
    noted = rng.choice(family.stages[stage].noted).format(**values)
    history.turns.append(Turn("user", said, at, key))
    history.turns.append(Turn("assistant", rng.choice(ACKNOWLEDGEMENTS), at + timedelta(seconds=3)))
    history.notes.append(Note(noted, at + timedelta(seconds=5), (family.kind,), key))


def _chat(history: UserHistory, draw: Draw, at: datetime) -> None:
    rng = draw.rng
    said, noted = rng.choice(CHITCHAT)
    slots = _chitchat_values(draw)
    text = rng.choice(OPENERS) + said.format(**slots) + rng.choice(CLOSERS)
    history.turns.append(Turn("user", text, at))
    history.turns.append(Turn("assistant", rng.choice(REPLIES), at + timedelta(seconds=3)))
    if noted is not None and rng.random() < 0.6:
        history.notes.append(Note(noted.format(**slots), at + timedelta(seconds=5), ("chat",)))


def _chitchat_values(draw: Draw) -> dict[str, str]:
    """Slot values for one chit-chat line, never one of the user's planted values."""
    rng = draw.rng
    return {
        "friend": draw.other(WOMEN),
        "colleague": f"{draw.other(FIRST_NAMES)} {draw.other(SURNAMES)}",
        "city": draw.other(CITIES),
        "dest": draw.other(DESTINATIONS),
        "dish": draw.other(DISHES),
        "tea": draw.other(TEAS),
        "drink": rng.choice(DRINKS),
        "band": draw.other(BANDS),
        "pet": draw.other(PET_NAMES),
        "breed": rng.choice(BREEDS),
        "month": rng.choice(MONTHS),
        "weekday": rng.choice(WEEKDAYS),
        "show": rng.choice(SHOWS),
        "book": rng.choice(BOOKS),
        "sport": rng.choice(SPORTS),
        "hobby": rng.choice(HOBBIES),
        "topic": rng.choice(TOPICS),
        "relation": rng.choice(RELATIONS),
        "team": rng.choice(TEAMS),
        "instrument": rng.choice(INSTRUMENTS),
        "num": str(rng.randint(5, 60)),
        "code": draw.unused(lambda: f"{draw.letters(2)}-{draw.digits(4)}"),
        "plate": draw.unused(lambda: f"{draw.letters(2)}{draw.digits(2)} {draw.letters(3)}"),
        "flight": draw.unused(lambda: f"{draw.letters(2)}{draw.digits(3)}"),
        "locker": draw.unused(lambda: draw.digits(3)),
    }


# --------------------------------------------------------------------------- style checks


def check_questions(history: UserHistory) -> None:
    """Hold each question to its style, with the server's own keyword rules (porter stems,
    its stop words): a paraphrase shares no keyword with its target statement or note, a
    keyword question shares at least one with the statement.  Raises ValueError naming the
    template to fix."""
    said = {turn.key: turn.text for turn in history.turns if turn.key}
    noted = {note.key: note.text for note in history.notes if note.key}
    with sqlite3.connect(":memory:") as db:
        db.execute("CREATE VIRTUAL TABLE doc USING fts5(body, tokenize='porter unicode61')")
        for question in history.questions:
            statement, note = said[question.target], noted[question.target]
            if question.style == "paraphrase":
                for text in (statement, note):
                    if shared := _shared_terms(db, question.text, text):
                        raise ValueError(
                            f"paraphrase {question.text!r} shares {sorted(shared)} with "
                            f"{text!r}: reword the {question.topic} templates"
                        )
            elif not _shared_terms(db, question.text, statement):
                raise ValueError(
                    f"keyword question {question.text!r} shares no keyword with "
                    f"{statement!r}: reword the {question.topic} templates"
                )


def _shared_terms(db: sqlite3.Connection, query: str, text: str) -> set[str]:
    db.execute("DELETE FROM doc")
    db.execute("INSERT INTO doc (body) VALUES (?)", (text,))
    terms = {term for term in re.findall(r"\w+", query.lower()) if term not in STOP_WORDS}
    return {
        term
        for term in terms
        if db.execute("SELECT 1 FROM doc WHERE doc MATCH ?", (f'"{term}"',)).fetchone()
    }
