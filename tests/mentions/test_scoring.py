"""Each mention's sentiment, escalation cues and explained priority."""

import pytest

from mentions.scoring import score


@pytest.mark.parametrize(
    ("text", "cues"),
    [
        ("I'm going to blog about how bad this is", ["public_threat"]),
        ("Cancelling my subscription today.", ["cancel"]),
        ("My lawyer will hear about this", ["legal"]),
        ("Tipping off a journalist I know", ["press"]),
        ("I was double-billed, I want a refund", ["refund"]),
        ("Still broken. Nobody answers.", ["persistence"]),
    ],
)
def test_each_escalation_cue_is_recognised(text, cues):
    assert score(text).cues == cues


@pytest.mark.parametrize(
    "text",
    [
        "Thanks for the quick update, all working again on my side!",
        "Is there a maintenance window planned for the EU region?",
        "Love the new dashboard.",
    ],
)
def test_calm_or_happy_posts_have_no_cues_and_a_low_priority(text):
    result = score(text)
    assert result.cues == [] and result.priority <= 5 and not result.spam


def test_outage_and_billing_words_read_as_negative():
    assert score("checkout down").sentiment < 0
    assert score("double-billed on renewal").sentiment < 0
    assert score("checkout works").sentiment >= 0


def test_the_priority_is_explained_in_words_and_orders_angry_reach_above_a_question():
    angry = score("Checkout is DOWN again. I'm going to blog about this.", followers=12_000, earlier_today=2)
    question = score("Is checkout down for anyone?", followers=40)

    assert angry.priority > question.priority
    assert angry.reasons == [
        "very negative", "threatens to go public", "still waiting, or again", "12k followers", "third mention today",
    ]  # fmt: skip


def test_spam_is_recognised_and_set_to_zero():
    result = score("Free followers! DM me for a crypto giveaway")
    assert result.spam and result.priority == 0 and result.reasons == ["looks like spam"]
