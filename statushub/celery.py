import os

from celery import Celery

from statushub.lib import filebroker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statushub.settings")

# The embedded demo's broker (settings.py names it when there is no Redis): atomic writes, no lost messages.
filebroker.register()

app = Celery("statushub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
