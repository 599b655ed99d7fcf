"""Upgrading moves API tokens to people without touching a row: a token made before still works after."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from people import tokens
from people.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("api", "0001_initial"), ("people", "0005_audit_actions_registered_per_app")]


def test_a_token_made_before_the_move_still_authenticates_after_it(engineer):
    _, secret = tokens.token_create(owner=engineer, name="deploy pipeline", scopes=["incidents:read"])
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("api", "ApiToken")
    assert old.objects.get().name == "deploy pipeline"  # the api app owned it, in the same table

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    found = tokens.token_authenticate(token=secret)
    assert found.owner == engineer and ApiToken._meta.db_table == "api_apitoken"
