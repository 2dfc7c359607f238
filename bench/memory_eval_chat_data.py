"""A second long conversation for the memory evaluation: two friends chatting, by seed.

Why a second set: on ``memory_eval_long_data``'s set the meaning (vector) half is the
stronger one, because its facts are short plain statements among short chit-chat. Long
conversations between people are often the other way round: turns are long and warm,
the same few topics come back session after session in the same words, and a question
is answered by one detail (a name, a place, an object) that only the keyword half can
tell apart from a dozen turns about the same thing. A fusion tuned on one regime alone
can lose to its keyword half on the other, so the evaluation runs both.

Two friends talk over many sessions a week or two apart. Each session dwells on two
topics; most turns are talk about the topic (feelings, plans, encouragement), and a few
carry a fact with a telling detail. Every fact's topic recurs in other sessions, often
with a fact of the same shape by the other friend. Question types, as in the first set:

- ``single``: shares the fact's telling words ("what did Maren name the puppy she adopted");
- ``paraphrase``: the same need in other words ("what is Maren's new dog called");
- ``two-turn``: a fact of each friend on one topic ("which instruments are Maren and
  Joel learning");
- ``time``: names the month the fact was said, when other months hold the same kind of
  fact ("what did Joel bake in March 2023");
- ``never-said``: about the other friend, who never said it; the right answer is the
  closest real turn (asked what Joel named his puppy, Maren's turn about hers).

Stored as the first set is: every turn a message with its time and a passage opening
with the session's date and the speaker's name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.memory_eval_long_data import MONTHS, LongQuestion, LongSet, Turn, session_times

FIRST_SESSION = datetime(2023, 1, 15, 19, 0, tzinfo=UTC)
FRIENDS = (("Maren", "she", "her"), ("Joel", "he", "his"))

OPENERS = (
    "Aw, that's so sweet!",
    "Haha, I totally get that.",
    "Wow, that sounds amazing.",
    "Oh no, I'm sorry to hear that.",
    "That's so cool, I'm really happy for you!",
    "Honestly, same here.",
    "Thanks for sharing that with me, it means a lot.",
    "Oh nice, I've been wondering about that.",
)
CLOSERS = (
    "How have things been on your side?",
    "It really made my week, to be honest.",
    "I'll tell you more next time we talk.",
    "Anyway, it's been a lot lately but in a good way.",
    "Life is funny like that, isn't it?",
    "I keep thinking about it.",
    "What do you think?",
    "It's the little things, you know?",
)


@dataclass(frozen=True)
class FactShape:
    """A kind of fact on a topic: its text and questions, with slots for the speaker
    (``{name}``, ``{pron}``, ``{poss}``) and for one telling ``{detail}``."""

    text: str
    single: str
    paraphrase: str
    details: tuple[str, ...]
    timed: str = ""  # "what did {name} bake in {when}": asked by month when set


@dataclass(frozen=True)
class Topic:
    name: str
    talk: tuple[str, ...]  # turns about the topic that carry no fact
    shapes: tuple[FactShape, ...]
    pair: str  # the two-turn question, about both shapes as one friend told them


TOPICS = (
    Topic(
        "pets",
        (
            "Animals just make everything better, don't they? Coming home to a happy pet "
            "after a long day is the best feeling in the world.",
            "I've been thinking a lot about pets lately, they're such a big responsibility "
            "but they give you so much love back.",
            "Our pet has been so clingy this week, I think it knows when I'm stressed.",
            "Taking care of an animal really teaches you patience, walks and vet visits and all.",
        ),
        (
            FactShape(
                "We adopted a puppy from the shelter last week and named him {detail}, "
                "he's already chewing everything in sight.",
                "what did {name} name the puppy {pron} adopted from the shelter",
                "what is {name}'s new dog called",
                ("Biscuit", "Pickles", "Juniper", "Waffles", "Bramble", "Ziggy"),
            ),
            FactShape(
                "The vet said our old cat has {detail}, so now she needs medicine twice a day.",
                "what did the vet say {name}'s cat has",
                "what health problem does {name}'s elderly pet have",
                ("kidney disease", "arthritis", "an overactive thyroid", "diabetes"),
            ),
        ),
        "what is {name}'s puppy called and what illness does {poss} cat have",
    ),
    Topic(
        "painting",
        (
            "Painting is honestly my therapy, when I'm at the easel everything else goes quiet.",
            "I love how art lets you say things you can't put into words.",
            "I've been painting a lot more since the weather turned, it keeps me sane.",
            "Do you ever look at your old artwork and cringe a little? I do all the time.",
        ),
        (
            FactShape(
                "I finished a painting of {detail} this weekend, it's hanging in the hallway now.",
                "what did {name} paint this weekend",
                "which picture did {name} hang in the hallway",
                (
                    "a lighthouse in a storm",
                    "sunflowers by the lake",
                    "my grandmother's kitchen",
                    "a fox in the snow",
                    "the harbour at dawn",
                ),
                timed="what did {name} paint in {when}",
            ),
            FactShape(
                "I signed up for a workshop on {detail} at the art centre, it starts next month.",
                "what workshop did {name} sign up for at the art centre",
                "what art technique is {name} going to learn",
                ("linocut printing", "oil glazing", "charcoal portraits", "ceramic glazes"),
            ),
        ),
        "what has {name} painted and which art workshop is {pron} taking",
    ),
    Topic(
        "running",
        (
            "Running has been such a good outlet for me, even a short jog clears my head.",
            "My legs are so sore from training this week, but it feels good to push myself.",
            "I love the feeling after a long run, like nothing can bother you.",
            "Getting out the door in the cold is the hardest part of running for me.",
        ),
        (
            FactShape(
                "I ran the {detail} on Sunday and finished in under two hours, I almost cried "
                "at the finish line.",
                "which race did {name} run on Sunday",
                "what event did {name} complete in under two hours",
                (
                    "Riverside Half Marathon",
                    "Harbour Bridge 10K",
                    "Old Town Charity Run",
                    "Forest Trail Challenge",
                ),
                timed="which race did {name} run in {when}",
            ),
            FactShape(
                "I hurt my {detail} on a training run, so the physio told me to rest for a while.",
                "what did {name} hurt on a training run",
                "which injury is keeping {name} from exercising",
                ("left knee", "right ankle", "achilles tendon", "lower back"),
            ),
        ),
        "which race did {name} run and what injury did {pron} get",
    ),
    Topic(
        "cooking",
        (
            "Cooking for people I love is one of my favourite things, it's how I show I care.",
            "I've been trying to cook more at home instead of ordering takeaway.",
            "Nothing beats a warm meal shared with friends on a cold evening.",
            "The kitchen was a total mess after dinner but it was worth it.",
        ),
        (
            FactShape(
                "I baked {detail} for my neighbour's birthday and she asked for the recipe.",
                "what did {name} bake for the neighbour's birthday",
                "which treat did {name} make that someone wanted the recipe for",
                (
                    "a lemon drizzle cake",
                    "cardamom buns",
                    "a rhubarb crumble",
                    "pistachio macarons",
                    "a plum galette",
                ),
                timed="what did {name} bake in {when}",
            ),
            FactShape(
                "My family's secret recipe is {detail}, my grandfather taught me when I was ten.",
                "what is {name}'s family's secret recipe",
                "which dish did {name}'s grandfather teach {poss} to cook",
                ("a smoked paprika goulash", "a saffron fish stew", "a black bean chilli"),
            ),
        ),
        "what did {name} bake and what is {poss} family recipe",
    ),
    Topic(
        "music",
        (
            "Music gets me through everything, I always have something playing.",
            "Practising every day is hard but I can hear myself getting better.",
            "There's nothing like live music, the energy in the room is unreal.",
            "I've had the same song stuck in my head all week, it's driving me mad.",
        ),
        (
            FactShape(
                "I started taking {detail} lessons on Thursdays, my teacher is very patient.",
                "which lessons did {name} start on Thursdays",
                "what instrument is {name} learning",
                ("cello", "ukulele", "trumpet", "banjo", "harp"),
            ),
            FactShape(
                "We went to see {detail} in concert and they played for almost three hours.",
                "which band did {name} see in concert",
                "who played a three hour show that {name} went to",
                ("the Paper Kites", "Velvet Orchard", "the Marigold Sisters", "Northern Static"),
                timed="which concert did {name} go to in {when}",
            ),
        ),
        "which instrument is {name} learning and which band did {pron} see",
    ),
    Topic(
        "work",
        (
            "Work has been really draining lately, so many meetings and not enough time.",
            "I'm trying to set better boundaries at work, no emails after seven.",
            "My team is great though, we support each other through the busy weeks.",
            "Sometimes I wonder if I'm on the right career path, you know?",
        ),
        (
            FactShape(
                "I got promoted to {detail} today, I still can't quite believe it.",
                "what was {name} promoted to",
                "what is {name}'s new role at work",
                ("head of logistics", "senior editor", "lead nurse", "operations manager"),
            ),
            FactShape(
                "I'm thinking of going back to school to study {detail} in the evenings.",
                "what does {name} want to study in the evenings",
                "which subject is {name} considering going back to school for",
                ("marine biology", "accounting", "landscape design", "psychology"),
            ),
        ),
        "what job did {name} get promoted to and what does {pron} want to study",
    ),
    Topic(
        "travel",
        (
            "I'm desperate for a holiday, somewhere with sun and no alarms.",
            "Travelling always changes how I see things back home.",
            "Packing is the worst part of any trip, I always forget something.",
            "I love looking through old holiday photos on rainy days.",
        ),
        (
            FactShape(
                "We spent a week camping near {detail} and saw the most incredible stars.",
                "where did {name} go camping",
                "which place did {name} visit to sleep outdoors under the stars",
                ("Lake Bled", "the Cairngorms", "the Dolomites", "Cape Cod", "Lofoten"),
                timed="where did {name} go camping in {when}",
            ),
            FactShape(
                "My passport expired so I had to rush a renewal before the flight to {detail}.",
                "where was {name} flying when the passport expired",
                "which trip nearly fell through because of {name}'s travel documents",
                ("Reykjavik", "Marrakesh", "Hanoi", "Montreal"),
            ),
        ),
        "where did {name} go camping and where was {pron} flying when the passport expired",
    ),
    Topic(
        "family",
        (
            "Family can be complicated, but I'm grateful for mine.",
            "The kids have been full of energy, the house is never quiet.",
            "We had everyone over on Sunday, it was loud and chaotic and lovely.",
            "I called my parents last night, they always know how to cheer me up.",
        ),
        (
            FactShape(
                "My daughter started {detail} classes and she refuses to take her helmet off "
                "at home.",
                "what classes did {name}'s daughter start",
                "which sport is {name}'s child learning",
                ("horse riding", "ice hockey", "fencing", "skateboarding"),
            ),
            FactShape(
                "My brother is getting married in {detail} and asked me to give a speech.",
                "where is {name}'s brother getting married",
                "which city is the wedding {name} has to give a speech at",
                ("Dubrovnik", "Edinburgh", "Santorini", "Kyoto"),
            ),
        ),
        "what classes did {name}'s daughter start and where is {poss} brother getting married",
    ),
)


@dataclass(frozen=True)
class _Planted:
    speaker: int
    topic: Topic
    shape: FactShape
    text: str


def _fill(template: str, speaker: int, detail: str = "", when: str = "") -> str:
    name, pron, poss = FRIENDS[speaker]
    return template.format(name=name, pron=pron, poss=poss, detail=detail, when=when)


def _talk(rng: random.Random, topic: Topic) -> str:
    return f"{rng.choice(OPENERS)} {rng.choice(topic.talk)} {rng.choice(CLOSERS)}"


def build_chat_set(seed: int = 23, sessions: int = 60, exchanges: int = 12) -> LongSet:
    """``sessions`` sessions of ``exchanges`` turns by each friend, alternating."""
    rng = random.Random(seed)
    times = session_times(rng, FIRST_SESSION, sessions, (6, 16), 120)
    topics_of = [rng.sample(TOPICS, 2) for _ in range(sessions)]
    owner = {shape.text: rng.randrange(2) for topic in TOPICS for shape in topic.shapes}
    facts: dict[int, list[_Planted]] = {}
    used: set[tuple[str, str]] = set()
    told: set[tuple[str, int]] = set()
    for number, pair in enumerate(topics_of):
        for topic in pair:
            for shape in topic.shapes:
                free = [d for d in shape.details if (shape.text, d) not in used]
                # Mostly the shape's owner tells it, so some facts were never said by
                # the other friend (the never-said questions ask them of the other).
                speaker = owner[shape.text] if rng.random() < 0.9 else 1 - owner[shape.text]
                repeat = (shape.text, speaker) in told and not shape.timed
                if not free or rng.random() < 0.55 or repeat:
                    continue
                detail = rng.choice(free)
                used.add((shape.text, detail))
                told.add((shape.text, speaker))
                text = _fill(f"{rng.choice(OPENERS)} " + shape.text, speaker, detail)
                facts.setdefault(number, []).append(_Planted(speaker, topic, shape, text))
    result = LongSet()
    for number, start in enumerate(times):
        planted = facts.get(number, [])
        lines: list[tuple[int, str]] = []
        for turn in range(2 * exchanges - len(planted)):
            lines.append((turn % 2, _talk(rng, rng.choice(topics_of[number]))))
        for fact in planted:
            spot = rng.randrange(len(lines) + 1)
            lines.insert(spot, (fact.speaker, fact.text))
        moment = start
        for speaker, text in lines:
            role = "user" if speaker == 0 else "assistant"
            result.turns.append(Turn(moment, role, text, speaker=FRIENDS[speaker][0]))
            moment += timedelta(seconds=rng.randint(30, 240))
    _questions(result, [(times[n], f) for n, found in facts.items() for f in found])
    return result


def _questions(result: LongSet, planted: list[tuple[datetime, _Planted]]) -> None:
    """Every planted fact asked about in each way its shape allows: a friend who said a
    fact of one shape twice (two paintings) is asked about each by month only."""
    by_shape: dict[str, list[tuple[datetime, _Planted]]] = {}
    for when, fact in planted:
        by_shape.setdefault(fact.shape.text, []).append((when, fact))
    for when, fact in sorted(planted, key=lambda pair: pair[0]):
        shape, speaker = fact.shape, fact.speaker
        evidence = (fact.text,)
        same = by_shape[shape.text]
        if sum(1 for _, other in same if other.speaker == speaker) == 1:
            for kind, question in (("single", shape.single), ("paraphrase", shape.paraphrase)):
                result.questions.append(LongQuestion(_fill(question, speaker), kind, evidence))
        if shape.timed and len({(w.year, w.month) for w, _ in same}) > 1:
            month = f"{MONTHS[when.month - 1]} {when.year}"
            result.questions.append(
                LongQuestion(_fill(shape.timed, speaker, when=month), "time", evidence)
            )
        if all(other.speaker == speaker for _, other in same) and len(same) == 1:
            # Never said by the other friend: the closest real turn is this one.
            result.questions.append(
                LongQuestion(_fill(shape.single, 1 - speaker), "never-said", evidence)
            )
    for topic in TOPICS:
        for speaker in (0, 1):
            told = [
                [fact for _, fact in planted if fact.shape is shape and fact.speaker == speaker]
                for shape in topic.shapes
            ]
            if all(len(facts) == 1 for facts in told):  # one answer each, not a choice
                evidence = tuple(facts[0].text for facts in told)
                result.questions.append(
                    LongQuestion(_fill(topic.pair, speaker), "two-turn", evidence)
                )
