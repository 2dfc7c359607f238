"""A long synthetic conversation for the memory evaluation, built from a seed.

One user talks to their agent over many sessions a few days apart (about a year and a
half, a few thousand turns). Facts are planted among chit-chat that reuses their words in
other contexts; each fact is asked about in one or more ways:

- ``single``: the question shares the fact's telling words ("what job did my sister
  Ana start");
- ``paraphrase``: the same need in other words ("what does Ana do for a living now");
- ``two-turn``: the answer needs two facts, said in different sessions;
- ``time``: the question names when it was said ("which restaurant did we try in May
  2023"), and other sessions hold the same kind of turn;
- ``never-said``: about something that was never said; the right answer is the closest
  real turn (asked about a shellfish allergy, the turn about the peanut allergy);
- ``event-time``: the question names a time by an event said in another session ("which
  restaurant did we go to the week after we moved"): the move is said in one session, a
  dinner in the next, five or six days later, and no other planted dinner falls in that
  week. The question does not name the restaurant.

Every turn is stored twice: as a message of the history (with the session's time) and as
an archival passage whose text opens with the session's date, as an agent that archives
its conversation would write it. The set is written as an agent file and a question file
in the format ``memory_eval.py --agent-file/--questions`` reads, so a user's own export is
evaluated by the same code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FIRST_SESSION = datetime(2023, 1, 9, 18, 0, tzinfo=UTC)

NAMES = (
    "Ana", "Bilal", "Chloe", "Dmitri", "Esme", "Farid", "Greta", "Hugo", "Ines", "Jonas",
    "Kemi", "Lars", "Maya", "Nikhil", "Olga", "Pavel", "Quinn", "Rosa", "Sven", "Tariq",
    "Uma", "Viktor", "Wren", "Yusuf", "Zara", "Mateo", "Leila", "Oskar", "Priya", "Ravi",
)  # fmt: skip
RELATIONS = (
    "sister", "brother", "cousin", "aunt", "uncle", "niece", "nephew", "neighbour",
    "flatmate", "best friend", "godmother", "stepdad",
)  # fmt: skip
JOBS = (
    "paramedic", "sound engineer", "florist", "tax adviser", "zookeeper", "pilot",
    "carpenter", "pharmacist", "translator", "landscape architect", "baker", "dentist",
)  # fmt: skip
CITIES = (
    "Lisbon", "Tallinn", "Kraków", "Porto", "Lyon", "Ghent", "Bergen", "Bologna", "Valencia",
    "Leipzig", "Galway", "Ljubljana", "Seville", "Utrecht",
)  # fmt: skip
ACTIVITIES = (
    ("pottery", "shaping clay on a wheel"), ("salsa", "Latin dancing"),
    ("bouldering", "indoor climbing"), ("Italian", "learning a new language"),
    ("watercolour", "painting"), ("jiu-jitsu", "martial arts"), ("choir", "singing with a group"),
    ("woodworking", "making furniture by hand"), ("photography", "taking pictures"),
    ("swimming", "laps in the pool"),
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ITEMS = (
    ("laptop", "computer"), ("road bike", "bicycle"), ("sofa", "couch"), ("camera", "lens kit"),
    ("espresso machine", "coffee maker"), ("washing machine", "laundry appliance"),
    ("mattress", "bed"), ("e-reader", "reading device"), ("drone", "flying gadget"),
    ("tent", "camping shelter"),
)  # fmt: skip
BRANDS = ("Lumo", "Vantra", "Kestrel", "Orbis", "Nordal", "Pellix", "Quorra", "Taviq")
RESTAURANTS = (
    "Casa Brava", "The Copper Pot", "Little Saigon", "Osteria Nove", "Bombay Lane", "Kaiseki Ren",
    "El Fogón", "Blue Anchor", "Mezze House", "Golden Dumpling", "Le Petit Four", "Smokehouse 41",
    "Taverna Eleni", "Pho Corner", "Bistro Verde", "Ramen Kazu",
)  # fmt: skip
DISHES = (
    "lamb tagine", "black cod", "duck confit", "mushroom risotto", "pork belly bao", "paella",
    "beef rendang", "sea bass", "gnocchi", "bibimbap", "moussaka", "ceviche",
)  # fmt: skip
ALLERGENS = (
    ("peanuts", "shellfish"), ("penicillin", "ibuprofen"), ("cats", "dogs"),
    ("pollen", "dust"), ("lactose", "gluten"), ("bee stings", "wasp stings"),
)  # fmt: skip
# Events said in a session, each with the words a question names it by (see ``_plant_events``).
EVENTS = (
    ("We finally moved into the new flat today, boxes everywhere.", "the week after we moved"),
    (
        "My cousin's wedding was today, we danced until midnight.",
        "the week after my cousin's wedding",
    ),
    (
        "We saw the Aurora Drift concert tonight, the encore was amazing.",
        "the week after the concert",
    ),
    (
        "Today was my first day at the new job, everyone was friendly.",
        "the week after my first day at the new job",
    ),
    (
        "I ran the city half marathon this morning, my legs are done.",
        "the week after the half marathon",
    ),
)
EVENT_RESTAURANTS = (
    "Saffron Table",
    "Nordic Larder",
    "Trattoria Lume",
    "Sakura Grill",
    "Casa Olivo",
)
EVENT_QUESTIONS = (
    "which restaurant did we go to {when}",
    "where did we have dinner {when}",
    "where did we eat out {when}",
)
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

REPLIES = (
    "That sounds lovely, tell me more!",
    "Oh nice, how did that go?",
    "I'll keep that in mind.",
    "Good to know, thanks for telling me.",
    "Ha, that's quite something.",
    "That must have been a long day.",
    "Fair enough. Anything else on your mind?",
    "I hope it works out well for you.",
)

# Chit-chat reusing the fact words elsewhere, so neither ranking finds facts by one word.
CHITCHAT = (
    "My {relation} called about the weekend plans, nothing decided yet.",
    "Work was a slog today, the {job} on the project kept changing the brief.",
    "Saw a documentary about {city} last night, looks beautiful.",
    "I walked past a {activity} studio on the way home, looked busy.",
    "The {item} at the office keeps breaking, someone should replace it.",
    "Someone recommended {restaurant} but the reviews are mixed.",
    "Tried to cook {dish} at home, it was only okay.",
    "The pharmacy was out of my usual hay fever tablets again.",
    "Traffic on the ring road was awful this morning.",
    "It rained all {weekday}, so we stayed in and watched films.",
    "My {relation} {name} sent photos from a hiking trip.",
    "Need to sort out the gym membership, it renews next month.",
    "The neighbours are renovating again, drilling since eight.",
    "I finally cleaned out the garage, found my old {item}.",
    "Had a long chat with {name} about flights to {city}, prices are mad.",
    "The doctor's waiting room was packed, took ages.",
    "Thinking about a new code for the bike lock, I keep forgetting it.",
    "Booked a table somewhere for Friday but I forget the name.",
    "Read an article about {job}s being in short supply.",
    "The weather has been strange for {month}.",
)


@dataclass(frozen=True)
class Turn:
    at: datetime
    role: str
    text: str
    speaker: str = ""  # a name, where the conversation is between people

    @property
    def passage(self) -> str:
        """The archival passage of this turn: the session's date, the speaker, the words."""
        return f"[{self.at:%A %d %B %Y}] {self.speaker or self.role}: {self.text}"


@dataclass(frozen=True)
class LongQuestion:
    text: str
    kind: str
    evidence: tuple[str, ...]  # the turns' texts (substrings of their passages)


@dataclass
class LongSet:
    turns: list[Turn] = field(default_factory=list)
    questions: list[LongQuestion] = field(default_factory=list)


@dataclass(frozen=True)
class Fact:
    """One planted statement with its questions; ``month`` set for time questions."""

    text: str
    questions: tuple[tuple[str, str], ...]  # (kind, question)
    group: str = ""  # facts of one group can be asked about together (two-turn)
    pair_question: str = ""


def _facts(rng: random.Random) -> list[Fact]:
    facts: list[Fact] = []
    names = rng.sample(NAMES, len(RELATIONS))
    for relation, name in zip(RELATIONS, names, strict=True):
        job, city = rng.choice(JOBS), rng.choice(CITIES)
        facts.append(
            Fact(
                f"My {relation} {name} just started a new job as a {job} in {city}.",
                (
                    ("single", f"what new job did my {relation} {name} start"),
                    ("paraphrase", f"what does {name} do for a living these days"),
                    ("never-said", f"did my {relation} {name} get married"),
                ),
                group="relation",
                pair_question=f"where do my {relation} and my {{other}} work now",
            )
        )
    for activity, gloss in ACTIVITIES:
        day = rng.choice(WEEKDAYS)
        facts.append(
            Fact(
                f"I signed up for a {activity} class, it's every {day} evening "
                "at the community centre.",
                (
                    ("single", f"which evening is my {activity} class"),
                    ("paraphrase", f"when do I go {gloss}"),
                ),
                group="class",
                pair_question=f"which days are my {activity} and {{other}} classes",
            )
        )
    for item, gloss in ITEMS:
        brand, price = rng.choice(BRANDS), rng.randrange(80, 2400, 10)
        facts.append(
            Fact(
                f"I bought a {brand} {item} for {price} euros, should have waited for the sale.",
                (
                    ("single", f"how much did the {brand} {item} cost"),
                    ("paraphrase", f"what did I pay for my new {gloss}"),
                    ("never-said", f"did I ever return the {item}"),
                ),
            )
        )
    for allergen, other in ALLERGENS:
        facts.append(
            Fact(
                f"The allergy test came back: I react badly to {allergen}.",
                (
                    ("single", f"am I allergic to {allergen}"),
                    ("never-said", f"am I allergic to {other}"),
                ),
            )
        )
    return facts


def _time_facts(rng: random.Random, sessions: list[datetime]) -> list[tuple[datetime, Fact]]:
    """Restaurant visits and trips, one per chosen month, asked about by month and year."""
    planted: list[tuple[datetime, Fact]] = []
    by_month: dict[tuple[int, int], datetime] = {}
    for at in sessions:
        by_month.setdefault((at.year, at.month), at)
    places = list(RESTAURANTS)
    rng.shuffle(places)
    for (year, month), at in sorted(by_month.items()):
        if not places:
            break
        place, dish = places.pop(), rng.choice(DISHES)
        when = f"{MONTHS[month - 1]} {year}"
        planted.append(
            (
                at,
                Fact(
                    f"We had dinner at {place} tonight, the {dish} was the highlight.",
                    (("time", f"which restaurant did we go to in {when}"),),
                ),
            )
        )
    return planted


def session_times(
    rng: random.Random, first: datetime, sessions: int, days: tuple[int, int], minutes: int
) -> list[datetime]:
    """When each session starts: ``days`` (least, most) apart, give or take ``minutes``."""
    times: list[datetime] = []
    at = first
    for _ in range(sessions):
        times.append(at)
        at += timedelta(days=rng.randint(*days), minutes=rng.randint(-minutes, minutes))
    return times


def build_long_set(seed: int = 19, sessions: int = 60, exchanges: int = 25) -> LongSet:
    """``sessions`` sessions of ``exchanges`` user turns each, every one answered, and
    the turns of the ``event-time`` questions (``_plant_events``) among them."""
    rng = random.Random(seed)
    times = session_times(rng, FIRST_SESSION, sessions, (5, 12), 90)
    facts = _facts(rng)
    rng.shuffle(facts)
    slots: dict[int, list[Fact]] = {}
    for fact in facts:
        slots.setdefault(rng.randrange(sessions), []).append(fact)
    timed = _time_facts(rng, times)
    placed: dict[int, list[Fact]] = {}
    for when, fact in timed:
        placed.setdefault(times.index(when), []).append(fact)
    result = LongSet()
    starts: list[int] = []  # index of each session's first turn
    for number, start in enumerate(times):
        starts.append(len(result.turns))
        planted = slots.get(number, [])
        user_lines = _session_lines(rng, exchanges, [*planted, *placed.get(number, [])])
        moment = start
        for line in user_lines:
            result.turns.append(Turn(moment, "user", line))
            moment += timedelta(seconds=rng.randint(20, 90))
            result.turns.append(Turn(moment, "assistant", rng.choice(REPLIES)))
            moment += timedelta(seconds=rng.randint(30, 200))
    all_facts = [*facts, *(fact for _, fact in timed)]
    for fact in all_facts:
        for kind, question in fact.questions:
            result.questions.append(LongQuestion(question, kind, (fact.text,)))
    result.questions.extend(_pairs(rng, facts))
    # Drawn after everything above, so the turns and questions before stay those of the seed.
    _plant_events(rng, result, times, starts, set(placed))
    return result


def _plant_events(
    rng: random.Random, data: LongSet, times: list[datetime], starts: list[int], busy: set[int]
) -> None:
    """An event in one session and a dinner in the next, for each of ``EVENTS``: the next
    session follows within six and a half days (so the dinner is in "the week after" the
    event wherever in the sessions the two turns fall), and neither session holds another
    planted dinner. Each turn goes in after a random exchange of its session, with its
    reply, seconds after it; chosen sessions are two apart at least, so one event's week
    holds no other event's dinner. Fewer events when too few sessions qualify."""
    close = timedelta(days=6, hours=12)
    eligible = [
        k
        for k in range(len(times) - 1)
        if times[k + 1] - times[k] <= close and k not in busy and k + 1 not in busy
    ]
    rng.shuffle(eligible)
    chosen: list[int] = []
    for k in eligible:
        if len(chosen) < len(EVENTS) and all(abs(k - other) >= 2 for other in chosen):
            chosen.append(k)
    inserts: list[tuple[int, str]] = []  # (session, user line)
    for (event, when), k, place in zip(EVENTS, chosen, EVENT_RESTAURANTS, strict=False):
        dinner = f"We had dinner at {place} tonight, the {rng.choice(DISHES)} was the highlight."
        question = rng.choice(EVENT_QUESTIONS).format(when=when)
        data.questions.append(LongQuestion(question, "event-time", (dinner,)))
        inserts += [(k, event), (k + 1, dinner)]
    ends = [*starts[1:], len(data.turns)]
    for session, line in sorted(inserts, reverse=True):  # later sessions first: indices hold
        exchanges = (ends[session] - starts[session]) // 2
        after = starts[session] + 2 * rng.randrange(exchanges) + 1  # an assistant reply
        moment = data.turns[after].at
        data.turns[after + 1 : after + 1] = [
            Turn(moment + timedelta(seconds=10), "user", line),
            Turn(moment + timedelta(seconds=20), "assistant", rng.choice(REPLIES)),
        ]


def _pairs(rng: random.Random, facts: list[Fact]) -> list[LongQuestion]:
    """Two-turn questions: two facts of one group asked about at once."""
    pairs: list[LongQuestion] = []
    for group in ("relation", "class"):
        members = [fact for fact in facts if fact.group == group]
        rng.shuffle(members)
        for first, second in zip(members[::2], members[1::2], strict=False):
            other = _subject(second)
            pairs.append(
                LongQuestion(
                    first.pair_question.format(other=other), "two-turn", (first.text, second.text)
                )
            )
    return pairs


def _subject(fact: Fact) -> str:
    """The relation or activity a grouped fact is about (the words after 'My'/'a')."""
    if fact.group == "relation":
        words = fact.text.removeprefix("My ").split(" just started")[0].split()
        return " ".join(words[:-1])
    return fact.text.removeprefix("I signed up for a ").split(" class")[0]


def _session_lines(rng: random.Random, exchanges: int, planted: list[Fact]) -> list[str]:
    lines = [_chitchat(rng) for _ in range(exchanges - len(planted))]
    for fact in planted:
        lines.insert(rng.randrange(len(lines) + 1), fact.text)
    return lines


def _chitchat(rng: random.Random) -> str:
    template = rng.choice(CHITCHAT)
    return template.format(
        relation=rng.choice(RELATIONS),
        job=rng.choice(JOBS),
        city=rng.choice(CITIES),
        activity=rng.choice(ACTIVITIES)[0],
        item=rng.choice(ITEMS)[0],
        restaurant=rng.choice(RESTAURANTS),
        dish=rng.choice(DISHES),
        weekday=rng.choice(WEEKDAYS),
        name=rng.choice(NAMES),
        month=rng.choice(MONTHS),
    )


LLM_CONFIG = {"model": "gpt-4o-mini", "model_endpoint_type": "openai", "context_window": 128000}
WINDOW = 20


def agent_file(data: LongSet, name: str = "long-conversation") -> dict[str, Any]:
    """The set as an agent file: every turn a message (with its time) and a dated passage."""
    messages = [
        {"id": f"m{i}", "role": turn.role, "content": turn.text, "created_at": turn.at.isoformat()}
        for i, turn in enumerate(data.turns)
    ]
    passages = [
        {"text": turn.passage, "tags": [], "metadata": {}, "created_at": turn.at.isoformat()}
        for turn in data.turns
    ]
    agent = {
        "id": "agent-long-eval",
        "name": name,
        "llm_config": LLM_CONFIG,
        "messages": messages,
        "in_context_message_ids": [m["id"] for m in messages[-WINDOW:]],
        "engram": {"summary": "", "passages": passages},
    }
    return {"agents": [agent]}


def question_lines(data: LongSet) -> list[dict[str, Any]]:
    """The question file: one JSON object a line, ``question``, ``type``, ``evidence``."""
    return [
        {"question": q.text, "type": q.kind, "evidence": list(q.evidence)} for q in data.questions
    ]
