"""The demo's listeners in dry run: what customers say about Northwind Cloud's outages, per service, heard once."""

from datetime import UTC, datetime, timedelta

from integrations.base import Heard, Remote

# (service, minutes ago, handle, name, followers, text)
POSTS: list[tuple[str, int, str, str, int, str]] = [
    ("mastodon", 2, "carla@hachyderm.io", "Carla", 2100,
     "Checkout on @northwind is failing for me in the US. Card declined three times. Anyone else?"),
    ("mastodon", 3, "devops_dan@mastodon.social", "Dan", 12400,
     "Northwind checkout DOWN again. Third time this quarter. I'm going to blog about how they handle outages."),
    ("bluesky", 3, "mia.bsky.social", "Mia", 830, "is northwind checkout broken for anyone else in the US??"),
    ("reddit", 4, "u/throwaway_ops", "throwaway_ops", 0,
     "Northwind Cloud checkout failing in the US region right now, status page says investigating"),
    ("mastodon", 5, "sam_shop@toot.community", "Sam's Shop", 310,
     "Lost three sales in ten minutes because Northwind checkout is down. Unacceptable. Switching to another "
     "provider if this keeps happening."),
    ("rss", 6, "", "Downdetector", 0, "Northwind Cloud: users report problems with checkout (US)"),
    ("bluesky", 8, "jo.bsky.social", "Jo", 150, "Thanks @northwind for the quick heads-up about checkout, appreciated!"),
    ("mastodon", 9, "free_followers@spam.example", "Promo", 5, "Free followers! DM me for a crypto giveaway"),
    ("reddit", 70, "u/angry_renewal", "angry_renewal", 0,
     "Northwind double-billed me on renewal. I want a refund today or I'm filing a chargeback and talking to a lawyer."),
    ("mastodon", 65, "li@fosstodon.org", "Li", 540,
     "Got charged twice by @northwind on my renewal this morning. Still no reply from support."),
    ("mastodon", 40, "ops_ana@mastodon.social", "Ana", 3300,
     "@northwind the double charge on renewals: is the refund automatic or do we need to open a ticket?"),
    ("bluesky", 2, "kenji.bsky.social", "Kenji", 4100,
     "Northwind checkout erroring out for our US customers. Status page already says investigating, good."),
    ("reddit", 5, "u/smallshop_sue", "smallshop_sue", 0,
     "PSA: Northwind checkout is down in the US. Orders failing since about 10 minutes ago."),
    ("mastodon", 6, "pat@infosec.exchange", "Pat", 25000,
     "Third outage at @northwind this month. Their checkout is down AGAIN and nobody answers support."),
    ("rss", 7, "", "TechNews Daily", 0,
     "Northwind Cloud payment checkout outage hits US merchants: a reporter is asking the company for comment"),
    ("bluesky", 10, "ravi.bsky.social", "Ravi", 95, "checkout on northwind just failed twice. card is fine."),
    ("mastodon", 12, "emma@mastodon.online", "Emma", 760,
     "Is @northwind checkout down or is it me? EU side works fine."),
    ("reddit", 14, "u/devlead42", "devlead42", 0,
     "If Northwind can't keep checkout up I'm cancelling our account and moving to another provider."),
    ("bluesky", 15, "alex.bsky.social", "Alex", 60, "northwind support answered in 2 minutes, nice"),
    ("mastodon", 20, "growthhacker@spam.example", "Growth", 3, "Earn $500 a day working from home, click the link"),
    ("reddit", 55, "u/finance_fran", "finance_fran", 0,
     "Northwind charged me twice for the annual renewal. Already emailed support, still waiting."),
    ("bluesky", 60, "omar.bsky.social", "Omar", 1500,
     "Got double-charged by northwind this morning, is anyone else seeing this?"),
    ("mastodon", 50, "jules@social.coop", "Jules", 220,
     "@northwind thanks for the clear update on the double charges, refund showed up already."),
    ("rss", 45, "", "Trustpilot", 0,
     "One star. Northwind double-billed my company and support keeps sending canned replies."),
    ("mastodon", 35, "vic@mas.to", "Vic", 18000,
     "@northwind double-billed again?! This is the second time. I'm going to write a blog post about this."),
]  # fmt: skip


def heard(kind: str, cursor: str) -> tuple[list[Heard], str]:
    """Every demo post of ``kind`` the first time (cursor ""), nothing after: a listener hears each post once."""
    if cursor:
        return [], cursor
    now = datetime.now(UTC).replace(microsecond=0)
    found = []
    for n, (service, minutes, handle, name, followers, text) in enumerate(POSTS):
        if service != kind:
            continue
        found.append(
            Heard(
                remote_id=f"demo-{service}-{n}",
                url=f"https://{service}.example/demo/{n}",
                text=text,
                author=Remote(id=f"demo-user-{n}", account=handle),
                author_name=name,
                posted_at=now - timedelta(minutes=minutes),
                found_by="mention" if "@northwind" in text else "search:northwind",
                reach=followers or None,
            )
        )
    return found, now.isoformat()
