"""Understanding one mention, without the database: its sentiment, its escalation cues, and a priority that
orders the inbox, explained in words ("negative, threatens to blog, 12k followers, third mention today").

Sentiment is VADER's compound score (vaderSentiment ships its lexicon: nothing is downloaded) with words added
for outage and billing talk, which VADER reads as neutral: "down", "double-billed", "refund", "again"… Cues are
rules. Pure functions: the ingest scores a hundred thousand mentions a minute on one worker.
"""

import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# Outage and billing words: negative in a customer's mouth.
OUTAGE_LEXICON = {
    "down": -1.6, "outage": -1.8, "broken": -1.8, "double-billed": -2.5, "double-charged": -2.5,
    "overcharged": -2.2, "charged twice": -2.5, "refund": -1.2, "again": -0.8, "still": -0.4, "unusable": -2.4,
    "useless": -2.2, "ridiculous": -2.6, "unacceptable": -2.4, "scam": -2.8, "fail": -1.8, "failing": -1.6,
    "failed": -1.6, "error": -1.2, "errors": -1.2, "outages": -1.8, "dead": -1.6, "slow": -1.2,
}  # fmt: skip


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w])(?:" + "|".join(alternatives) + r")(?![\w])", re.IGNORECASE)


# cue: (pattern, the reason in words, weight toward the priority)
CUES: dict[str, tuple[re.Pattern[str], str, int]] = {
    "public_threat": (
        _words(r"(?:going to|gonna|will|i'?ll) (?:tweet|blog|post|write|tell everyone|make a video)",
               r"write (?:a|an) (?:review|post|blog)", r"tell (?:all my|everyone|the world)", r"one[- ]star"),
        "threatens to go public", 20,
    ),
    "cancel": (
        _words(r"cancel+(?:ing|ed)?(?: my)?(?: subscription| account)?", r"switch(?:ing)? to", r"leaving",
               r"moving to", r"find another (?:provider|service)"),
        "threatens to cancel", 18,
    ),
    "legal": (
        _words(r"sue", r"suing", r"lawyers?", r"attorneys?", r"legal action", r"small claims", r"court"),
        "mentions legal action", 25,
    ),
    "press": (
        _words(r"journalists?", r"reporters?", r"the press", r"news ?paper", r"techcrunch", r"the verge"),
        "mentions the press", 22,
    ),
    "refund": (
        _words(r"refund(?:s|ed)?", r"charge ?back", r"money back", r"double[- ](?:billed|charged)",
               r"charged (?:me )?twice", r"overcharged"),
        "money: refund or double charge", 15,
    ),
    "persistence": (
        _words(r"still", r"again", r"nobody (?:answers|responds|replies)", r"no (?:response|reply|answer)",
               r"(?:second|third|fourth) time", r"for hours", r"all day"),
        "still waiting, or again", 10,
    ),
}  # fmt: skip

SPAM = _words(
    r"crypto",
    r"giveaway",
    r"airdrop",
    r"free followers",
    r"dm me for",
    r"click (?:here|the link)",
    r"earn \$?\d+",
    r"work from home",
    r"onlyfans",
    r"promo code",
)


@dataclass(frozen=True)
class Score:
    sentiment: float  # -1 (angry) .. 1 (happy)
    cues: list[str] = field(default_factory=list)
    priority: int = 0  # 0..100: the inbox's order
    reasons: list[str] = field(default_factory=list)
    spam: bool = False


@cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update({word: value for word, value in OUTAGE_LEXICON.items() if " " not in word})
    return analyzer


def sentiment_of(text: str) -> float:
    return round(float(_analyzer().polarity_scores(text)["compound"]), 3)


def _reach(followers: int | None) -> tuple[int, str]:
    if not followers or followers < 500:
        return 0, ""
    label = f"{followers / 1000:.0f}k followers" if followers >= 1000 else f"{followers} followers"
    if followers >= 1_000_000:
        label = f"{followers / 1_000_000:.1f}M followers"
    # 500 → ~3, 10k → ~13, 100k → ~20, 1M → ~25
    return min(25, round(3.6 * math.log10(followers / 100) + 0.5) if followers >= 100 else 0), label


ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def score(text: str, *, followers: int | None = None, earlier_today: int = 0) -> Score:
    """``earlier_today``: how many mentions the same author made in the last 24 hours before this one."""
    if SPAM.search(text):
        return Score(sentiment=0.0, cues=[], priority=0, reasons=["looks like spam"], spam=True)
    sentiment = sentiment_of(text)
    reasons: list[str] = []
    priority = 0
    if sentiment <= -0.05:
        priority += round(-sentiment * 35)
        reasons.append("very negative" if sentiment <= -0.6 else "negative")
    elif sentiment >= 0.5:
        reasons.append("positive")
    cues = []
    for name, (pattern, reason, weight) in CUES.items():
        if name == "persistence" and sentiment > 0.3:
            continue  # "working again, thanks!" is not a complaint
        if pattern.search(text):
            cues.append(name)
            reasons.append(reason)
            priority += weight
    points, label = _reach(followers)
    if label:
        priority += points
        reasons.append(label)
    if earlier_today:
        nth = earlier_today + 1
        priority += min(15, 5 * earlier_today)
        reasons.append(f"{ORDINALS.get(nth, f'{nth}th')} mention today")
    if sentiment >= 0.5 and not cues:
        priority = min(priority, 5)  # a happy customer can wait a little
    return Score(sentiment=sentiment, cues=cues, priority=max(0, min(100, priority)), reasons=reasons)
