"""The tone guard flags what a calm reader would take badly, names the words, says why and suggests calmer
wording; and it leaves calm, factual outage updates alone (describing a failure is not heat)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statushub.lib import tone


def _found(text: str, kind: str = "update", **options) -> list[tuple[str, str]]:
    return [(flag.kind, flag.text) for flag in tone.check(text, kind=kind, **options).flags]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This is RIDICULOUS!!!", [("heat", "RIDICULOUS"), ("heat", "!!!")]),
        ("As we already said, the fix is live.", [("heat", "As we already said")]),
        ("Obviously the page was down.", [("heat", "Obviously")]),
        ("Thanks for nothing, I guess.", [("heat", "Thanks for nothing")]),
        ("That was user error on your side.", [("blame", "user error")]),
        ("You should have retried the payment.", [("blame", "You should have")]),
        (
            "It is not our fault: blame AWS for this one.",
            [("blame", "It is not our fault"), ("blame", "blame AWS")],
        ),
        ("Our lawyers are looking at your post.", [("legal", "lawyers")]),
        (
            "Please remove your review or we will take legal action.",
            [("legal", "remove your review"), ("legal", "legal action")],
        ),
        ("Your post is defamatory.", [("legal", "defamatory")]),
        ("We will refund you today.", [("negotiation", "refund")]),
        ("We'll add a free month to your account.", [("negotiation", "free month")]),
        ("We expect a fix soon.", [("vague", "soon")]),
        ("Service will be back in a few minutes.", [("vague", "in a few minutes")]),
        ("It's just a small glitch.", [("minimising", "just a small glitch")]),
        ("It affects only a few users.", [("minimising", "only a few users")]),
        ("SEV1 declared; see INC-4521.", [("jargon", "SEV1"), ("jargon", "INC-4521")]),
        ("Failover to pay-db-02.prod.internal is running.", [("jargon", "pay-db-02.prod.internal")]),
    ],
)
def test_each_kind_of_flag_names_the_words_it_found(text, expected):
    report = tone.check(text)
    assert [(flag.kind, flag.text) for flag in report.flags] == expected
    for flag in report.flags:
        assert text[flag.start : flag.end] == flag.text
        assert "doctrine" in flag.why and flag.suggestion


@pytest.mark.parametrize(
    "text",
    [
        "We are investigating elevated error rates on payments. Next update by 14:30 UTC.",
        "Payments failed for some customers between 09:12 and 09:40 UTC. Refunds for double charges are automatic.",
        "We are sorry for the disruption. The API is unavailable in the EU region; we will update by 15:00 UTC.",
        "The fix is deployed and error rates are back to normal. We are monitoring and will update by 16:00 UTC.",
        "Card payments are failing for about 12% of customers in Europe. We have identified the cause.",
        "We expect recovery shortly, by 10:15 UTC at the latest.",  # vague word, but a time is given
        "Our status API and DNS records are healthy; SSL certificates were renewed.",  # acronyms are not shouting
        "**Cause:** a bad deploy.",  # owning up is not heat (a publish with these words was once refused)
        "Something went wrong with a configuration change: our mistake, and we are rolling it back.",
    ],
)
def test_calm_factual_updates_are_not_flagged(text):
    report = tone.check(text)
    assert report.flags == []
    assert report.heat < tone.HEAT_FLAG_AT


def test_money_to_everyone_in_an_update_is_fine_but_any_offer_in_a_reply_goes_private():
    general = "Every customer charged twice is refunded automatically."
    assert _found(general) == []
    assert _found(general, kind="reply") == [("negotiation", "refunded")]


def test_the_teams_own_internal_names_are_flagged_as_jargon():
    assert _found("Paging the Hermes on-call now.", jargon=["Hermes"]) == [("jargon", "Hermes")]
    assert _found("Paging the on-call now.", jargon=["Hermes"]) == []


def test_heat_reads_anger_not_outage_words():
    assert tone.heat_of("Payments failed and checkout is down.") < 0.3  # the failure itself is neutral
    assert tone.heat_of("This is pathetic and incompetent, we are furious.") > tone.HEAT_FLAG_AT
    hot = tone.check("You people are incompetent and clueless, I am furious.")
    assert [flag.kind for flag in hot.flags] == ["heat"]  # the sentence as a whole
    assert hot.flags[0].text == "You people are incompetent and clueless, I am furious."


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_flags_that_point_into_it(text):
    report = tone.check(text, kind="reply")
    assert -1 <= report.heat <= 1
    for flag in report.flags:
        assert 0 <= flag.start < flag.end <= len(text) and text[flag.start : flag.end] == flag.text
