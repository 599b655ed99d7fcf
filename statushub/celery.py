import os

from celery import Celery

from statushub.lib import filebroker, redisbroker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statushub.settings")

# The embedded demo's broker (settings.py names it when there is no Redis): atomic writes, no lost messages.
filebroker.register()
# redis:// brokers: kombu's transport, but a Redis restart with a task in hand no longer kills the worker.
redisbroker.register()

app = Celery("statushub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
