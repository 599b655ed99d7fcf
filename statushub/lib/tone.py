"""The tone guard: what in a draft a calm reader would take badly, said before it goes out.

Pure (no Django, no database, no network): a draft's words in, flags out. Every flag names the words it found
(``start``/``end`` into the text), says why in one line with the doctrine item it serves, and suggests calmer
wording. The heat score is VADER's (vaderSentiment, whose lexicon ships in the package) with the words an outage
update cannot avoid ("error", "outage", "failed", "down") made neutral, so describing a failure is not heat and
anger, shouting and sarcasm are. Nothing here blocks anything: a person reads the flags and decides.

Kinds of flag: ``heat``, ``blame``, ``legal``, ``negotiation``, ``vague``, ``minimising``, ``jargon``.
"""

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, Literal

Kind = Literal["update", "reply"]

# Doctrine items (../shared/PRODUCT.md, repeated in the README): why each flag matters.
DOCTRINE = {
    "heat": "Step away from the mic: level-headed beats instant-but-heated (doctrine 8).",
    "blame": "Apologise for the frustration without blaming anyone in public (doctrine 7).",
    "legal": "Never threaten: legal words in public make a small story big (the Streisand effect, doctrine 7).",
    "negotiation": "No negotiation in public: offer what one person is owed in private (doctrine 7).",
    "vague": "Reassure on a promised schedule: give a time, and keep it (doctrine 11).",
    "minimising": "Customers who are hit do not find it small: say what is affected plainly (doctrine 2).",
    "jargon": "Say it so every customer understands: no internal names or codes (doctrine 5).",
}
# How hot a sentence must read (0..1, VADER's negative compound) to be flagged as a whole.
HEAT_FLAG_AT = 0.5

# Words every outage update uses: describing the failure is not anger.
_NEUTRAL = [
    # Owning up is not heat: "a bad deploy", "something went wrong", "our mistake".
    "bad",
    "wrong",
    "mistake",
    "mistakes",
    "error",
    "errors",
    "outage",
    "outages",
    "down",
    "failed",
    "failing",
    "fail",
    "fails",
    "failure",
    "failures",
    "issue",
    "issues",
    "problem",
    "problems",
    "degraded",
    "disruption",
    "disruptions",
    "broken",
    "crash",
    "crashed",
    "crashes",
    "incident",
    "incidents",
    "delay",
    "delayed",
    "delays",
    "unavailable",
    "interruption",
    "interrupted",
    "affected",
    "impact",
    "impacted",
    "sorry",
    "apologise",
    "apologize",
    "apologies",
]
# Words VADER does not know that the billing and outage arguments are made of.
_EXTRA_LEXICON = {"ridiculous": -2.6, "unacceptable": -2.4, "clueless": -2.5, "incompetent": -2.8}
# Capitals that are names, not shouting.
_ACRONYMS = {
    "API", "APIS", "HTTP", "HTTPS", "DNS", "SSL", "TLS", "UTC", "GMT", "CEO", "CTO", "VPN", "SMS", "URL", "FAQ",
    "SSO", "SAML", "EU", "US", "UK", "AWS", "GCP", "CDN", "IP", "ID", "OK", "IOS", "PDF", "CSV", "JSON",
}  # fmt: skip


@dataclass(frozen=True)
class Flag:
    kind: str
    start: int
    end: int
    text: str
    why: str
    suggestion: str


@dataclass(frozen=True)
class Report:
    flags: list[Flag] = field(default_factory=list)
    heat: float = 0.0  # -1 (warm, friendly) .. 1 (hot)

    def as_dict(self) -> dict[str, Any]:
        return {"flags": [asdict(flag) for flag in self.flags], "heat": self.heat}


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    suggestion: str
    kinds: tuple[str, ...] = ("update", "reply")


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


JARGON_SUGGESTION = (
    'Describe it as customers see it ("the payments service"), not by its internal name or number.'
)

_RULES = (
    _Rule("heat", re.compile(r"[!?]*![!?]+|!{2,}"), "One full stop says it: drop the extra marks."),
    _Rule(
        "heat",
        _words(
            r"obviously",
            r"as we (?:already|have already|clearly) (?:said|stated|explained)",
            r"as (?:previously|already) (?:stated|said|explained)",
            r"thanks for nothing",
            r"for the last time",
            r"clearly you",
            r"(?:ridiculous|absurd|pathetic|stupid|idiotic|nonsense)",
        ),
        'Say what is true and what happens next, without the edge: "Here is where things stand: …".',
    ),
    _Rule(
        "blame",
        _words(
            r"user error",
            r"you should have",
            r"you (?:failed|forgot|neglected) to",
            r"if you had",
            r"(?:it'?s|it is|this is|was) (?:not our|your) fault",
            r"not our (?:fault|problem)",
            r"(?:caused|broken) by (?:the |our )?(?:customers?|users?)",
            r"(?:blame|fault of) (?:aws|amazon|google|azure|cloudflare|our (?:provider|vendor|supplier)|a third party)",
        ),
        'Own the experience without assigning blame: "We are sorry for the disruption; here is what we are doing."',
    ),
    _Rule(
        "legal",
        _words(
            r"lawyers?",
            r"attorneys?",
            r"legal action",
            r"legal team",
            r"sue",
            r"suing",
            r"lawsuit",
            r"defamat(?:ion|ory)",
            r"libel(?:ous)?",
            r"slander(?:ous)?",
            r"cease and desist",
            r"(?:remove|delete|take down) (?:your|the|this|that) (?:post|tweet|review|comment|thread)",
        ),
        'Leave the law out of it in public; ask to talk privately: "Could you DM us so we can sort this out?"',
    ),
    _Rule(
        "vague",
        _words(
            r"soon",
            r"shortly",
            r"momentarily",
            r"asap",
            r"as soon as possible",
            r"in a (?:bit|moment|while)",
            r"in a (?:few|couple of) (?:minutes|hours)",
            r"any (?:minute|moment) now",
            r"later today",
        ),
        'Promise a time instead: "Next update by 14:30 UTC."',
    ),
    _Rule(
        "minimising",
        _words(
            r"just a (?:small |minor |tiny |little )?(?:glitch|hiccup|blip|issue|problem)",
            r"(?:a |only a )?(?:small|minor|tiny) (?:glitch|hiccup|blip)",
            r"only (?:a few|a handful of|some) (?:users|customers|people)",
            r"a minor inconvenience",
            r"nothing to worry about",
            r"no big deal",
            r"barely noticeable",
        ),
        'Say plainly who is affected and how: "Some customers cannot complete payments."',
    ),
    _Rule(
        "jargon",
        re.compile(
            r"\b(?:sev[- ]?[0-4]|p[0-4](?= incident)|[A-Z][A-Z0-9]{1,9}-\d{1,6}|"
            r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:internal|local|corp|lan|svc|cluster\.local)|"
            r"[a-z]+-\d{1,3}(?:\.[a-z0-9-]+)+)\b",
            re.IGNORECASE,
        ),
        JARGON_SUGGESTION,
    ),
)
_MONEY = _words(r"refunds?", r"refunded", r"credits?", r"credited", r"compensat(?:e|ed|ion)", r"reimburs(?:e|ed|ement)",
                r"discount", r"free (?:month|months|year)", r"money back")  # fmt: skip
_TO_ONE = _words(r"you", r"your", r"you'll", r"you will")
_CONCRETE_TIME = re.compile(
    r"\b\d{1,2}(?::\d{2})\s*(?:am|pm|utc|gmt)?\b|\b\d{1,2}\s*(?:am|pm)\b|\butc\b", re.IGNORECASE
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z']{3,}\b(?:[\s,]+\b[A-Z][A-Z']{1,}\b)*")


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    for word in _NEUTRAL:
        analyzer.lexicon[word] = 0.0
    analyzer.lexicon.update(_EXTRA_LEXICON)
    return analyzer


def heat_of(text: str) -> float:
    """-1 (warm) .. 1 (hot): the opposite of VADER's compound score, outage vocabulary made neutral."""
    if not text.strip():
        return 0.0
    return round(-float(_analyzer().polarity_scores(text)["compound"]), 3)


def _flag(kind: str, match_start: int, match_end: int, text: str, suggestion: str) -> Flag:
    return Flag(kind, match_start, match_end, text[match_start:match_end], DOCTRINE[kind], suggestion)


def check(text: str, *, kind: Kind = "update", jargon: Iterable[str] = ()) -> Report:
    """Every flag in ``text`` (in order), and its heat. ``jargon``: internal names to flag (tools, teams, hosts)."""
    jargon = [term.strip() for term in jargon if term.strip()]  # read twice below: a generator would run dry
    flags: list[Flag] = []
    for rule in _RULES:
        if kind not in rule.kinds:
            continue
        for match in rule.pattern.finditer(text):
            if rule.kind == "vague" and _CONCRETE_TIME.search(_sentence_around(text, match.start())):
                continue  # "shortly, by 14:30 UTC" names the time
            flags.append(_flag(rule.kind, match.start(), match.end(), text, rule.suggestion))
    for match in _CAPS_RUN.finditer(text):
        words = re.findall(r"[A-Z']+", match.group())
        if len([w for w in words if w not in _ACRONYMS and len(w) >= 4]) >= 1 and not _is_jargon(
            match.group(), jargon
        ):
            flags.append(
                _flag(
                    "heat",
                    match.start(),
                    match.end(),
                    text,
                    "Write it in sentence case: capitals read as shouting.",
                )
            )
    for term in jargon:
        for match in _words(re.escape(term)).finditer(text):
            flags.append(_flag("jargon", match.start(), match.end(), text, JARGON_SUGGESTION))
    for match in _MONEY.finditer(text):
        sentence = _sentence_around(text, match.start())
        if kind == "reply" or _TO_ONE.search(sentence):
            flags.append(
                _flag("negotiation", match.start(), match.end(), text,
                      "Offer it privately: \"Please DM us your account e-mail so we can look into this for you.\"")
            )  # fmt: skip
    flagged = [(f.start, f.end) for f in flags if f.kind == "heat"]
    for match in _SENTENCE.finditer(text):
        sentence = match.group()
        if heat_of(sentence) >= HEAT_FLAG_AT and not any(
            s < match.end() and e > match.start() for s, e in flagged
        ):
            flags.append(_flag("heat", match.start(), match.start() + len(sentence.rstrip()), text,
                               "Read it once more calmly: say what happened, that you are sorry, and what comes next."))  # fmt: skip
    flags.sort(key=lambda f: (f.start, f.end, f.kind))
    return Report(flags=_unique(flags), heat=heat_of(text))


def _sentence_around(text: str, index: int) -> str:
    start = max(text.rfind(stop, 0, index) for stop in ".!?\n") + 1
    ends = [pos for pos in (text.find(stop, index) for stop in ".!?\n") if pos != -1]
    return text[start : min(ends) + 1 if ends else len(text)]


def _is_jargon(words: str, jargon: list[str]) -> bool:
    return any(words.strip().lower() == term.lower() for term in jargon)


def _unique(flags: list[Flag]) -> list[Flag]:
    seen: set[tuple[str, int, int]] = set()
    kept = []
    for flag in flags:
        key = (flag.kind, flag.start, flag.end)
        if key not in seen:
            seen.add(key)
            kept.append(flag)
    return kept
