"""Print the authenticator code a person's app shows now: for the demo (its logins share a known key) and for
scripted journeys. Refuses anywhere else, since it would let whoever runs it skip the second factor."""

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from people import two_factor


class Command(BaseCommand):
    help = "Print the current two-step sign-in code of a demo login (the embedded demo only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.EMBEDDED and not getattr(settings, "STATUSHUB_TRANSPORT_OVERRIDES", False):
            raise CommandError("demo_code works only in the embedded demo (or a test setup).")
        user = get_user_model().objects.filter(username=options["username"]).first()
        device = two_factor.confirmed_totp(user) if user is not None else None
        if device is None:
            raise CommandError(f"{options['username']} has no authenticator app set up.")
        self.stdout.write(two_factor.totp_code(device))
