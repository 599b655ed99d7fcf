from django.urls import path

from people import two_factor_views

app_name = "account"

urlpatterns = [
    path("two-factor/", two_factor_views.second_step, name="two-factor"),
    path("two-factor/recovery-codes/", two_factor_views.recovery_codes, name="recovery-codes"),
]
