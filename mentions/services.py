"""Taking mentions in (from listeners, webhooks and people), scoring them, suggesting their incident; and what
people do with them in the inbox."""

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from incidents.models import Incident
from integrations.base import Heard
from mentions import scoring
from mentions.models import Mention, MentionSource

BATCH = 1000
# Words an incident's title shares with every complaint: they say nothing about which incident it is.
_GENERIC = {
    "some", "customers", "customer", "users", "failing", "failed", "errors", "error", "issue", "issues",
    "problem", "problems", "slow", "delayed", "down", "outage", "elevated", "rates", "unavailable", "with",
    "from", "region", "intermittent", "service", "services", "other", "their", "after", "again",
    "the", "and", "for", "are", "was", "you", "your", "our", "not", "but", "has", "its", "this", "that", "any",
    "anyone", "else", "all", "just", "now", "still", "why", "how", "what", "when", "who", "can", "cannot",
    "can't", "does", "did", "get", "got", "have", "into", "out", "off", "too", "very", "been", "being", "there",
}  # fmt: skip
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]{2,}")


@dataclass(frozen=True)
class Incoming:
    """A post to take in, whoever found it."""

    service: str
    remote_id: str
    text: str
    posted_at: datetime
    url: str = ""
    author_handle: str = ""
    author_name: str = ""
    author_id: str = ""
    followers: int | None = None
    found_by: str = ""
    in_reply_to: str = ""

    @classmethod
    def from_heard(cls, service: str, heard: Heard) -> "Incoming":
        return cls(
            service=service,
            remote_id=heard.remote_id,
            text=heard.text,
            posted_at=heard.posted_at,
            url=heard.url,
            author_handle=heard.author.account,
            author_name=heard.author_name,
            author_id=heard.author.id,
            followers=heard.reach,
            found_by=heard.found_by,
            in_reply_to=heard.in_reply_to,
        )


@dataclass
class _Candidate:
    incident: Incident
    words: set[str]
    since: datetime


# How customers say what an incident's title says another way.
_SAME = {
    "double-billed": {"charged", "twice"}, "double-charged": {"charged", "twice"}, "billed": {"charged"},
    "overcharged": {"charged"}, "payment": {"payments"}, "checkouts": {"checkout"}, "renewals": {"renewal"},
    "webhook": {"webhooks"}, "e-mails": {"e-mail"}, "emails": {"e-mail"}, "email": {"e-mail"},
}  # fmt: skip


def _words(text: str) -> set[str]:
    words = {w for w in _WORD.findall(text.lower()) if w not in _GENERIC}
    for word in list(words):
        words |= _SAME.get(word, set())
    return words


def _candidates() -> list[_Candidate]:
    """The open incidents, with the words that name them (title and components)."""
    out = []
    for incident in (
        Incident.objects.filter(kind=Incident.Kind.INCIDENT)
        .exclude(status__in=Incident.CLOSED_STATUSES)
        .prefetch_related("components")
    ):
        words = _words(incident.title)
        for component in incident.components.all():
            words |= _words(component.name)
        since = (incident.detected_at or incident.created_at) - timedelta(minutes=30)
        out.append(_Candidate(incident, words, since))
    return out


def suggest_incident(
    text: str, posted_at: datetime, candidates: Sequence[_Candidate]
) -> tuple[Incident | None, str]:
    """The open incident the post most likely concerns (the most shared words, posted after it began)."""
    said = _words(text)
    best: tuple[int, _Candidate | None, set[str]] = (0, None, set())
    for candidate in candidates:
        if posted_at < candidate.since:
            continue
        shared = said & candidate.words
        if len(shared) > best[0]:
            best = (len(shared), candidate, shared)
    if best[1] is None:
        return None, ""
    return best[1].incident, "mentions " + ", ".join(sorted(best[2]))


def own_handles(source: MentionSource | None) -> set[str]:
    handles = {h.lower().lstrip("@") for h in settings.STATUSHUB_OWN_HANDLES}
    if source is not None:
        handles |= {str(h).lower().lstrip("@") for h in source.config.get("own_handles", [])}
    return handles


def ingest(items: Iterable[Incoming], *, source: MentionSource | None = None, now: datetime | None = None,
           entered_by: User | None = None) -> list[Mention]:  # fmt: skip
    """Store what is new (a post already stored, however found, is skipped), scored and with its suggested
    incident. Returns the mentions stored now."""
    now = now or timezone.now()
    items = list(items)
    candidates = _candidates()
    mine = own_handles(source)
    stored: list[Mention] = []
    for start in range(0, len(items), BATCH):
        stored += _ingest_batch(items[start : start + BATCH], source, now, candidates, mine, entered_by)
    return stored


def _ingest_batch(
    batch: list[Incoming],
    source: MentionSource | None,
    now: datetime,
    candidates: Sequence[_Candidate],
    mine: set[str],
    entered_by: User | None,
) -> list[Mention]:
    batch = [_clean(i) for i in batch]  # before any query: PostgreSQL refuses NUL even in a WHERE
    keys = {(i.service, i.remote_id) for i in batch}
    services = {service for service, _ in keys}
    known = set(
        Mention.objects.filter(service__in=services, remote_id__in=[r for _, r in keys]).values_list(
            "service", "remote_id"
        )
    )
    fresh: dict[tuple[str, str], Incoming] = {}
    for item in sorted(batch, key=lambda i: i.posted_at):
        key = (item.service, item.remote_id)
        if key not in known and key not in fresh:
            fresh[key] = item
    if not fresh:
        return []
    authors = {(i.service, i.author_handle) for i in fresh.values() if i.author_handle}
    earlier: Counter[tuple[str, str]] = Counter()
    if authors:
        rows = (
            Mention.objects.filter(
                service__in={s for s, _ in authors},
                author_handle__in={h for _, h in authors},
                posted_at__gte=now - timedelta(hours=24),
            )
            .values("service", "author_handle")
            .annotate(n=Count("id"))
        )
        for row in rows:
            earlier[(row["service"], row["author_handle"])] = row["n"]
    rows_out = []
    for item in fresh.values():
        author = (item.service, item.author_handle)
        s = scoring.score(
            item.text, followers=item.followers, earlier_today=earlier[author] if item.author_handle else 0
        )
        if item.author_handle:
            earlier[author] += 1
        aside = ""
        if item.author_handle.lower().lstrip("@") in mine:
            aside = "our own post"
        elif s.spam:
            aside = "spam"
        incident, why = (None, "") if aside else suggest_incident(item.text, item.posted_at, candidates)
        rows_out.append(
            Mention(
                source=source,
                service=item.service,
                remote_id=item.remote_id[:300],
                url=item.url[:1000],
                text=item.text,
                author_handle=item.author_handle[:200],
                author_name=item.author_name[:200],
                author_id=item.author_id[:200],
                followers=item.followers,
                posted_at=item.posted_at,
                received_at=now,
                found_by=item.found_by[:200],
                in_reply_to=item.in_reply_to[:300],
                sentiment=s.sentiment,
                cues=s.cues,
                priority=0 if aside else s.priority,
                priority_reasons=s.reasons if not aside else [aside],
                set_aside_reason=aside,
                state=Mention.State.SET_ASIDE if aside else Mention.State.NEW,
                suggested_incident=incident,
                suggestion_reason=why[:200],
                entered_by=entered_by,
            )
        )
    Mention.objects.bulk_create(
        rows_out, ignore_conflicts=True
    )  # a concurrent ingest of the same post: skipped
    stored = Mention.objects.filter(
        received_at=now, service__in=services, remote_id__in=[m.remote_id for m in rows_out]
    )
    return list(stored)


def _clean(item: Incoming) -> Incoming:
    """What the database can keep and a page can link: no NUL characters, links only to http(s)."""
    url = item.url if item.url.lower().startswith(("https://", "http://")) else ""
    fields = {name: getattr(item, name) for name in ("text", "author_handle", "author_name", "author_id",
                                                      "found_by", "in_reply_to", "remote_id")}  # fmt: skip
    cleaned = {name: value.replace("\x00", "") for name, value in fields.items()}
    return replace(item, url=url, **cleaned)


# --- what people do in the inbox -----------------------------------------------------------------------------


def mention_assign(*, mention: Mention, to: User | None, by: User) -> Mention:
    with transaction.atomic():
        locked = Mention.objects.select_for_update(of=("self",)).get(pk=mention.pk)
        locked.assigned_to = to
        if locked.state == Mention.State.NEW and to is not None:
            locked.state = Mention.State.ASSIGNED
        elif locked.state == Mention.State.ASSIGNED and to is None:
            locked.state = Mention.State.NEW
        locked.save(update_fields=["assigned_to", "state"])
    return locked


def mention_link(*, mention: Mention, incident: Incident | None, by: User) -> Mention:
    """A person confirms (or changes, or removes) the incident a mention concerns."""
    if incident is not None and incident.is_maintenance:
        raise ValidationError("Link mentions to incidents, not to maintenances.")
    Mention.objects.filter(pk=mention.pk).update(incident=incident)
    mention.incident = incident
    return mention


def mention_close(*, mention: Mention, by: User, reason: str = "") -> Mention:
    """No answer needed (a question answered elsewhere, a happy customer), or set aside as spam."""
    state = Mention.State.SET_ASIDE if reason else Mention.State.DONE
    Mention.objects.filter(pk=mention.pk).update(state=state, set_aside_reason=reason[:100])
    mention.state, mention.set_aside_reason = state, reason[:100]
    return mention


def mention_reopen(*, mention: Mention, by: User) -> Mention:
    state = Mention.State.ASSIGNED if mention.assigned_to_id else Mention.State.NEW
    Mention.objects.filter(pk=mention.pk).update(state=state, set_aside_reason="")
    mention.state, mention.set_aside_reason = state, ""
    return mention
