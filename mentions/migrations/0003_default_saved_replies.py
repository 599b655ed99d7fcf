from django.db import migrations

REPLIES = [
    ("Take it offline", "offline",
     "Hi {name}, I'm {me}, {my_title} at {company}. I'm sorry for the frustration this is causing. I'd like to "
     "sort this out with you directly: could you send me a private message, or write to me at {my_email}? "
     "I'll take it from there."),
    ("We are on it", "on_it",
     "Hi {name}, I'm {me} at {company}. Sorry for the trouble: we know about it and are working on it right now. "
     "Our latest update, signed by the people handling it: {update_url}"),
    ("It should be working now", "fixed",
     "Hi {name}, {me} from {company} here. This should be working again now. If it still isn't for you, send me "
     "a private message and I'll look into it myself."),
]  # fmt: skip


def add(apps, schema_editor):
    SavedReply = apps.get_model("mentions", "SavedReply")
    for position, (name, kind, body) in enumerate(REPLIES):
        SavedReply.objects.get_or_create(
            name=name, defaults={"kind": kind, "body": body, "position": position}
        )


class Migration(migrations.Migration):
    dependencies = [("mentions", "0002_replies")]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
