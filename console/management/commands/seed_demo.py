"""Reset the demo: Northwind Cloud's components, a few months of history, last week's SEV1,
today's double-charge SEV2 in progress (its next update due in a few minutes), a fresh SEV1 nobody has
acknowledged yet (its clock running) and next Saturday's EU database maintenance."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from channels.models import Channel
from channels.services import channel_set_credentials
from incidents import services, signing
from incidents.availability import recompute_component_days
from incidents.models import (
    ChainHead,
    Component,
    ComponentGroup,
    ComponentStatusChange,
    Incident,
    IncidentRole,
    IncidentUpdate,
    SigningKey,
)
from people import roles, two_factor
from people.services import profile_for
from warroom.services import situation_save

DEMO_PASSWORD = "northwind-demo"  # noqa: S105  (printed on purpose: demo only)
# Publishers and the admin sign in in two steps; the demo's authenticator key is fixed and known, so
# `manage.py demo_code <login>` prints the code an app would show.
DEMO_TOTP_KEY = b"northwind-demo-totp!"
S = Component.Status
I = Incident.Status  # noqa: E741

PEOPLE = [
    # username, first, last, title, role group, staff superuser
    ("dana", "Dana", "Whitfield", "CEO", roles.PUBLISHER, False),
    ("priya", "Priya", "Raman", "VP Engineering", roles.PUBLISHER, False),
    ("sam", "Sam", "Okafor", "Communications lead", roles.COMMUNICATOR, False),
    ("lee", "Lee", "Chen", "Customer support", roles.COMMUNICATOR, False),
    ("marco", "Marco", "Rossi", "Payments engineer", roles.ENGINEER, False),
    ("admin", "Ada", "Admin", "Administrator", None, True),
]

TITLES = {username: title for username, _, _, title, _, _ in PEOPLE}

LAYOUT = {
    "Core": ["Web app", "Public API", "Dashboard"],
    "Billing": ["Payments", "Invoicing"],
    "Notifications": ["E-mail delivery", "Webhooks"],
    "Regions": ["EU region", "US region"],
}

PAST = [
    ("Elevated API error rates in the US region", ["Public API", "US region"], S.PARTIAL_OUTAGE, "sev2"),
    ("Delayed e-mail notifications", ["E-mail delivery"], S.DEGRADED_PERFORMANCE, "sev3"),
    ("Webhook deliveries delayed by up to 20 minutes", ["Webhooks"], S.DEGRADED_PERFORMANCE, "sev3"),
    ("Dashboard slow to load for some customers", ["Dashboard"], S.DEGRADED_PERFORMANCE, "sev4"),
    ("Invoice PDFs failing to generate", ["Invoicing"], S.PARTIAL_OUTAGE, "sev3"),
    ("Sign-in failures for some EU customers", ["Web app", "EU region"], S.MAJOR_OUTAGE, "sev2"),
    ("Card payments declined by one of our processors", ["Payments"], S.PARTIAL_OUTAGE, "sev2"),
    ("Intermittent 502 errors on the web app", ["Web app"], S.DEGRADED_PERFORMANCE, "sev3"),
    ("Webhook signatures rejected after a certificate change", ["Webhooks"], S.MAJOR_OUTAGE, "sev2"),
    ("Search in the dashboard returning no results", ["Dashboard"], S.PARTIAL_OUTAGE, "sev3"),
]


class Command(BaseCommand):
    help = "Delete all incidents and components and seed Northwind Cloud's demo story."

    def handle(self, *args: Any, **options: Any) -> None:
        self.now = timezone.now().replace(second=0, microsecond=0)
        self.rng = random.Random(20261123)
        with transaction.atomic():
            self._reset()
            self.people = self._people()
            self.components = self._components()
            self._past_incidents()
            self._last_weeks_sev1()
            self._upcoming_maintenance()
            self._active_sev2()
            self._war_room_sev1()
            self._channels()
        for component in Component.objects.all():
            recompute_component_days(component)
        self.stdout.write(self.style.SUCCESS("Demo data seeded: Northwind Cloud."))
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        for username, first, last, title, group, _ in PEOPLE:
            self.stdout.write(f"  {username:<6} {first} {last}, {title} — {group or 'superuser'}")
        self.stdout.write(
            "Publishers and admin also type a code from an authenticator app: "
            "python manage.py demo_code dana (or priya, admin; sam before publishing a first acknowledgement) prints it."
        )
        sev1 = Incident.objects.get(title="Checkout failing in the US region")
        self.stdout.write(
            f"War room: /manage/incidents/{sev1.pk}/ — a SEV1 nobody has acknowledged yet, its clock running; "
            "sam (its primary communicator) may publish the first acknowledgement."
        )
        self._subscribers()
        self._alert_sources()
        self._listening()

    def _subscribers(self) -> None:
        """One confirmed e-mail subscriber, confirmed after the seeded history so only new publishes reach them."""
        from subscribers.models import HookSubscription, Subscriber

        Subscriber.objects.all().delete()
        HookSubscription.objects.all().delete()
        Subscriber.objects.create(
            email="alex@customer.example", state=Subscriber.State.ACTIVE, confirmed_at=timezone.now()
        )
        self.stdout.write(
            "Demo subscriber: alex@customer.example gets every update; "
            "read the mails (and unsubscribe in one click) at /subscribe/outbox/ as a publisher or communicator."
        )

    # --- setup ---------------------------------------------------------------
    def _reset(self) -> None:
        IncidentRole.objects.all().delete()
        IncidentUpdate.objects.update(corrects=None)
        Incident.objects.all().delete()
        Component.objects.all().delete()
        ComponentGroup.objects.all().delete()
        Channel.objects.all().delete()
        SigningKey.objects.all().delete()
        ChainHead.objects.all().delete()

    def _people(self) -> dict[str, Any]:
        User = get_user_model()
        roles.sync_role_groups()
        people = {}
        for username, first, last, _title, group, superuser in PEOPLE:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name, user.last_name = first, last
            user.email = f"{username}@northwind.example"
            user.is_staff = True
            user.is_superuser = superuser
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.groups.set([Group.objects.get(name=group)] if group else [])
            profile = profile_for(user)
            profile.title = TITLES[username]
            profile.work_email = user.email  # offered in "take it offline" replies
            profile.save()
            if group == roles.PUBLISHER or superuser or username == "sam":
                # Sam may publish a first acknowledgement as an incident's primary communicator: a second factor.
                two_factor.totp_confirm(device=two_factor.totp_start(user=user, key=DEMO_TOTP_KEY))
            if group == roles.PUBLISHER:
                # Keys older than the seeded history, so every backdated update verifies.
                signing.key_create(owner=user, at=self.now - timedelta(days=180))
            people[username] = user
        return people

    def _components(self) -> dict[str, Component]:
        born = self.now - timedelta(days=120)
        components = {}
        for g, (group_name, names) in enumerate(LAYOUT.items()):
            group = ComponentGroup.objects.create(name=group_name, position=g, created_at=born)
            for p, name in enumerate(names):
                component = Component.objects.create(
                    group=group, name=name, position=p, created_at=born, start_date=born.date()
                )
                ComponentStatusChange.objects.create(
                    component=component, status=S.OPERATIONAL, changed_at=born
                )
                components[name] = component
        return components

    def _publish(self, incident: Incident, who: str, status: str, body: str, at: datetime, **kw: Any) -> None:
        author = self.people[who]
        services.update_publish(incident=incident, author=author, status=status, body=body, at=at, **kw)

    def _statuses(self, names: list[str], status: str) -> dict[Component, str]:
        return {self.components[name]: status for name in names}

    # --- the story -----------------------------------------------------------
    def _past_incidents(self) -> None:
        for n, (title, names, status, severity) in enumerate(PAST):
            day = self.now - timedelta(days=110 - n * 10 - self.rng.randint(0, 6))
            start = day.replace(hour=self.rng.randint(6, 20), minute=self.rng.choice([4, 17, 26, 38, 51]))
            if start > self.now - timedelta(days=9):
                continue
            length = timedelta(minutes=self.rng.randint(25, 240))
            incident = Incident.objects.create(
                title=title, severity=severity, detected_at=start, started_at=start - timedelta(minutes=3)
            )
            self._publish(
                incident, "priya", I.INVESTIGATING,
                f"We are investigating reports of problems with {', '.join(names)}. Next update within 30 minutes.",
                start + timedelta(minutes=self.rng.randint(4, 12)), component_statuses=self._statuses(names, status),
            )  # fmt: skip
            self._publish(
                incident, "priya", I.IDENTIFIED,
                "We have found the cause and are rolling out a fix.",
                start + length / 2,
            )  # fmt: skip
            self._publish(
                incident, "priya", I.RESOLVED,
                "The fix is live and everything has been working normally since. Sorry for the disruption.",
                start + length, component_statuses=self._statuses(names, S.OPERATIONAL),
            )  # fmt: skip

    def _last_weeks_sev1(self) -> None:
        start = (self.now - timedelta(days=6)).replace(hour=14, minute=10)
        incident = Incident.objects.create(
            title="Dashboard and API unavailable",
            severity=Incident.Severity.SEV1,
            detected_at=start,
            started_at=start - timedelta(minutes=2),
            postmortem_url="https://northwind.example/blog/2026-dashboard-api-outage-postmortem",
        )
        core = ["Dashboard", "Public API"]
        self._publish(
            incident, "priya", I.INVESTIGATING,
            "The dashboard and the public API are not responding. Our engineers are on it; next update by "
            f"{start + timedelta(minutes=35):%H:%M} UTC.",
            start + timedelta(minutes=6), component_statuses=self._statuses(core, S.MAJOR_OUTAGE),
        )  # fmt: skip
        self._publish(
            incident, "dana", I.INVESTIGATING,
            "I'm Dana, Northwind's CEO. I'm sorry: we know many of you cannot work right now. The whole engineering "
            "team is on this and I will post here myself until it is fixed.",
            start + timedelta(minutes=24),
        )  # fmt: skip
        self._publish(
            incident, "priya", I.IDENTIFIED,
            "A configuration change to our load balancers sent all traffic to a pool that had been drained for "
            "maintenance. We are rolling the change back region by region.",
            start + timedelta(minutes=48),
        )  # fmt: skip
        self._publish(
            incident, "priya", I.MONITORING,
            "The rollback is complete and both services answer normally. We are watching error rates closely.",
            start + timedelta(minutes=81), component_statuses=self._statuses(core, S.DEGRADED_PERFORMANCE),
        )  # fmt: skip
        self._publish(
            incident, "dana", I.RESOLVED,
            "Everything has been stable for an hour. Thank you for your patience, and again, I'm sorry. We will "
            "publish a full postmortem, including what we are changing so this cannot happen again.",
            start + timedelta(minutes=142), component_statuses=self._statuses(core, S.OPERATIONAL),
        )  # fmt: skip
        self._publish(
            incident, "dana", I.POSTMORTEM,
            "Our postmortem is published: what happened, minute by minute, and the three changes we have made.",
            start + timedelta(days=2, hours=3),
        )  # fmt: skip

    def _upcoming_maintenance(self) -> None:
        days_ahead = (5 - self.now.weekday()) % 7 or 7
        saturday = (self.now + timedelta(days=days_ahead)).date()
        begins = datetime(saturday.year, saturday.month, saturday.day, 2, 0, tzinfo=UTC)
        incident = Incident.objects.create(
            kind=Incident.Kind.MAINTENANCE,
            status=I.SCHEDULED,
            title="Database upgrade for the EU region",
            severity=Incident.Severity.SEV4,
            scheduled_for=begins,
            scheduled_until=begins + timedelta(hours=1),
        )
        self._publish(
            incident, "priya", I.SCHEDULED,
            "We will upgrade the EU region's primary database to a new major version. Expect up to 10 minutes of "
            "read-only mode for EU accounts within the window; nothing else is affected.",
            self.now - timedelta(days=2),
        )  # fmt: skip
        incident.affected.create(component=self.components["EU region"], status=S.UNDER_MAINTENANCE)

    def _channels(self) -> None:
        """Created after the history, so only new publishes fan out; dry run records what would be sent."""
        partner = Channel.objects.create(
            kind=Channel.Kind.WEBHOOK,
            name="Partner status feed",
            config={"url": "https://hooks.northwind.example/statushub"},
            dry_run=True,
        )
        channel_set_credentials(
            channel=partner, credentials={"secret": "whsec_" + "ZGVtby1vbmx5LXNlY3JldA=="}
        )
        Channel.objects.create(
            kind=Channel.Kind.MANUAL,
            name="UserVoice forum",
            config={"community": "UserVoice", "post_url": "https://feedback.northwind.example/forums/status"},
        )
        # One of every kind, all in dry run: the demo shows each channel's exact request and sends nothing.
        for kind, name, config in [
            (Channel.Kind.X, "@NorthwindCloud on X", {"username": "NorthwindCloud"}),
            (Channel.Kind.FACEBOOK, "Northwind Cloud Facebook Page", {"page_id": "104899563214470"}),
            (Channel.Kind.MASTODON, "@northwind@mastodon.social", {"instance": "https://mastodon.social", "max_characters": 500}),
            (Channel.Kind.BLUESKY, "@status.northwind.example on Bluesky", {"handle": "status.northwind.example", "service": "https://bsky.social"}),
            (Channel.Kind.SLACK, "#status in the customer Slack", {"channel": "C05NWSTATUS"}),
            (Channel.Kind.DISCOURSE, "Northwind Community forum", {"forum_url": "https://community.northwind.example", "category_id": 7, "api_username": "system"}),
            (Channel.Kind.REDDIT, "r/NorthwindCloud", {"subreddit": "NorthwindCloud", "username": "northwind-status", "client_id": "demo-app"}),
        ]:  # fmt: skip
            Channel.objects.create(kind=kind, name=name, config=config, dry_run=True)
        Channel.objects.create(
            kind=Channel.Kind.X, name="Dana's own X account", owner=self.people["dana"],
            config={"username": "DanaWhitfield"}, dry_run=True,
        )  # fmt: skip

    def _active_sev2(self) -> None:
        t0 = self.now - timedelta(minutes=78)
        incident = Incident.objects.create(
            title="Some customers charged twice on renewal",
            severity=Incident.Severity.SEV2,
            detected_at=t0,
            started_at=t0 - timedelta(minutes=11),
        )
        for who, role in [
            ("sam", IncidentRole.Role.COMMANDER),
            ("sam", IncidentRole.Role.PRIMARY_COMMUNICATOR),
            ("lee", IncidentRole.Role.SECONDARY_COMMUNICATOR),
            ("marco", IncidentRole.Role.TECH_LIAISON),
            ("dana", IncidentRole.Role.EXECUTIVE_SPOKESPERSON),
        ]:
            incident.roles.create(user=self.people[who], role=role)

        def note(minutes: int, text: str, public: bool = False) -> None:
            services.note_add(
                incident=incident, author=self.people["marco"], text=text, is_public=public,
                at=t0 + timedelta(minutes=minutes),
            )  # fmt: skip

        note(2, "Alert: payment_captures_duplicate_ratio above 0.5% for 5 minutes. Looking.")
        self._publish(
            incident, "priya", I.INVESTIGATING,
            "We're aware some renewals were charged twice; we're investigating and will update by "
            f"{t0 + timedelta(minutes=38):%H:%M} UTC.",
            t0 + timedelta(minutes=7), component_statuses={self.components["Payments"]: S.PARTIAL_OUTAGE},
            next_update_at=t0 + timedelta(minutes=38),
        )  # fmt: skip
        note(
            12, "Duplicates all come from renewals retried after a gateway timeout. New sign-ups unaffected."
        )
        note(
            19,
            "Root cause: the payment worker's retry logic does not reuse the idempotency key after a timeout.",
        )
        note(
            23,
            "We have found why some renewals were charged twice: a retry after a timeout from our card processor "
            "was sent as a new charge. A fix is being tested now.",
            public=True,
        )
        self._publish(
            incident, "dana", I.IDENTIFIED,
            "I'm Dana Whitfield, CEO of Northwind Cloud. I'm sorry for the worry this causes: nobody should be "
            "charged twice.\n\n"
            "**What we know:** some subscriptions that renewed this morning were charged twice. New purchases "
            "are not affected.\n\n"
            "**What we are doing:** we have found the cause, and every duplicate charge will be refunded "
            "automatically — you do not need to contact your bank.\n\n"
            f"Next update by {self.now + timedelta(minutes=4):%H:%M} UTC.",
            t0 + timedelta(minutes=29), next_update_at=self.now + timedelta(minutes=4),
        )  # fmt: skip
        note(41, "Fix deployed to canary (5% of renewals). No duplicates in 600 captures so far.")
        note(55, "Refunds job queued: 1,284 duplicate charges found. Dry run matches finance's list.")
        note(70, "Canary clean for 25 minutes; rolling out to 50%.")

    def _war_room_sev1(self) -> None:
        """Opened by an alert three minutes ago and not acknowledged: its clock is amber (SEV1: 5 minutes)."""
        detected = timezone.now().replace(microsecond=0) - timedelta(minutes=3)
        incident = Incident.objects.create(
            title="Checkout failing in the US region",
            severity=Incident.Severity.SEV1,
            detected_at=detected,
            started_at=detected - timedelta(minutes=1),
        )
        for who, role in [
            ("priya", IncidentRole.Role.COMMANDER),
            ("sam", IncidentRole.Role.PRIMARY_COMMUNICATOR),
            ("lee", IncidentRole.Role.SECONDARY_COMMUNICATOR),
            ("marco", IncidentRole.Role.TECH_LIAISON),
            ("dana", IncidentRole.Role.EXECUTIVE_SPOKESPERSON),
        ]:
            incident.roles.create(user=self.people[who], role=role)
        services.note_add(
            incident=incident, author=self.people["marco"], at=detected + timedelta(seconds=40),
            text='Alert: checkout_error_ratio{region="us"} at 31% for 2 minutes. EU checkouts normal. Looking.',
        )  # fmt: skip
        situation_save(
            incident=incident, author=self.people["marco"],
            affected="checkout in the US region", customers="about a third of US checkouts fail",
            since=detected - timedelta(minutes=1), spread="stable since it started",
            expected_duration="not known yet", workaround="saved cards still go through on a second try",
        )  # fmt: skip

    def _listening(self) -> None:
        """Listeners in dry run on the demo's fake posts: the inbox fills with what customers say right now."""
        from mentions.models import Mention, MentionSource
        from mentions.polling import poll
        from mentions.replies import ensure_default_saved_replies

        ensure_default_saved_replies()

        Mention.objects.all().delete()
        MentionSource.objects.all().delete()
        for kind, name in [
            ("mastodon", "Mastodon: @northwind and saved searches"),
            ("bluesky", "Bluesky: mentions"),
            ("reddit", "Reddit: r/sysadmin search"),
            ("rss", "Google Alerts and reviews"),
        ]:
            source = MentionSource.objects.create(
                kind=kind, name=name, dry_run=True, searches="northwind\nNorthwind Cloud", poll_seconds=300,
                config={"own_handles": ["northwind@mastodon.social"]},
            )  # fmt: skip
            poll(source.pk)
        self.stdout.write(
            f"Mentions: {Mention.objects.count()} in the inbox at /manage/mentions/ (listeners in dry run)."
        )

    def _alert_sources(self) -> None:
        """Prometheus Alertmanager as an alert source, with a known token so the README's curl opens a draft."""
        from alerts.models import AlertSource
        from alerts.services import source_issue_secret

        AlertSource.objects.all().delete()
        source = AlertSource.objects.create(
            kind=AlertSource.Kind.ALERTMANAGER, name="Prometheus (production)", slug="prometheus",
            component_map={"web": "Web app", "api": "Public API", "dashboard": "Dashboard", "payments": "Payments",
                           "invoicing": "Invoicing", "email": "E-mail delivery", "webhooks": "Webhooks"},
        )  # fmt: skip
        demo_token = "shalert_northwind-demo-alerts"  # noqa: S105  (printed on purpose: demo only)
        token = source_issue_secret(source=source, by=None, secret=demo_token)
        self.stdout.write(f"Alerts: Alertmanager posts to /hooks/alerts/{source.slug}/ with Bearer {token}")
