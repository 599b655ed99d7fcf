"""The ApiToken model now belongs to people (people/migrations/0006); its table, api_apitoken, stays as it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("people", "0006_api_tokens_are_peoples"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ApiToken")], database_operations=[]
        ),
    ]
