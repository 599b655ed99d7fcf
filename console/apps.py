from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The team's screens (/manage/): compose, preview, deliveries, channels, keys, profile, the dashboard.

    The top of the house: it reads and writes every domain below it through their services and selectors,
    and nothing imports it."""

    name = "console"
    label = "console"
    verbose_name = "Team console"
