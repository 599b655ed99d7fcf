from integrations.text import fit, linked_length
from integrations.x.transport import weighted_length

URL = "https://status.northwind.com/updates/p31zjtct2jer/"


def test_links_count_as_twenty_three_characters_whatever_their_length():
    assert linked_length(f"See {URL}") == len("See ") + 23


def test_a_message_that_fits_is_left_whole():
    text, shortened = fit(head="API down — Identified", body="We found it.", tail=f"— Dana\n{URL}", limit=500)
    assert text == f"API down — Identified\n\nWe found it.\n\n— Dana\n{URL}"
    assert shortened is False


def test_it_shortens_at_a_sentence_end_and_keeps_the_link():
    body = "We found the cause. Refunds are automatic. " + "More detail follows here. " * 30
    text, shortened = fit(head="Title", body=body, tail=f"— Dana\n{URL}", limit=120, measure=linked_length)
    assert shortened is True
    assert linked_length(text) <= 120
    kept = text.split("\n\n")[1]
    assert kept.startswith("We found the cause. Refunds are automatic.")
    assert kept.endswith(". …")  # whole sentences only
    assert text.endswith(URL)


def test_it_never_cuts_a_word_when_even_one_sentence_is_too_long():
    body = "Unprecedentedly " * 40
    text, shortened = fit(head="T", body=body, tail=URL, limit=80, measure=linked_length)
    assert shortened and linked_length(text) <= 80
    kept = text.split("\n\n")[1].removesuffix(" …")
    assert all(word == "Unprecedentedly" for word in kept.split())


def test_sentences_written_without_spaces_are_kept_whole_too():
    body = "決済に障害が発生しています。原因を特定しました。返金は自動で行われます。"
    text, shortened = fit(head="障害", body=body, tail="https://s.example/u", limit=60)
    assert shortened and "決済に障害が発生しています。原因を特定しました。 …" in text
    assert "返金" not in text


def test_a_title_too_long_for_the_limit_is_shortened_too_never_the_link():
    head = "Payments failing for customers in every region " * 6
    text, shortened = fit(head=head, body="Body.", tail="https://s.example/u", limit=80)
    assert shortened and len(text) <= 80
    assert text.startswith("Payments failing") and text.endswith("https://s.example/u")


def test_only_what_mastodon_would_link_counts_as_a_link():
    # Mastodon finds links with twitter-text's pattern: what follows a link's last valid character counts in full.
    text = "https://northwind.com/a" + "<" * 600

    assert linked_length(text) == 23 + 600


def test_paragraphs_are_kept_and_the_cut_falls_after_the_last_whole_one_that_fits():
    body = "First paragraph.\n\nSecond paragraph.\n\n" + "Third paragraph is far too long. " * 10
    text, shortened = fit(head="T", body=body, tail=URL, limit=120, measure=linked_length)

    assert shortened and linked_length(text) <= 120
    assert text.startswith("T\n\nFirst paragraph.\n\nSecond paragraph.\n\nThird paragraph is far too long.")


def test_a_title_with_no_spaces_is_cut_between_characters_to_fit():
    head = "決済障害" * 100  # CJK: no spaces, and X counts each character twice
    text, shortened = fit(head=head, body="Body.", tail=URL, limit=280, measure=weighted_length)

    assert shortened and weighted_length(text) <= 280
    assert text.startswith("決済障害決済") and text.endswith(URL)
