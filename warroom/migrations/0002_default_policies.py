from django.db import migrations

DEFAULTS = {"sev1": (5, 30), "sev2": (10, 60), "sev3": (30, 120), "sev4": (120, 240)}
TEMPLATE = (
    "We are aware that {affected} {verb} affected. We are investigating and will update by {next_update}."
)


def seed(apps, schema_editor):
    SeverityPolicy = apps.get_model("warroom", "SeverityPolicy")
    for severity, (target, cadence) in DEFAULTS.items():
        SeverityPolicy.objects.get_or_create(
            severity=severity,
            defaults={"tta_target_minutes": target, "cadence_minutes": cadence, "ack_template": TEMPLATE},
        )


class Migration(migrations.Migration):
    dependencies = [("warroom", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
