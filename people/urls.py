from django.urls import path

from people import two_factor_views

app_name = "account"

urlpatterns = [
    path("two-factor/", two_factor_views.second_step, name="two-factor"),
    path("two-factor/recovery-codes/", two_factor_views.recovery_codes, name="recovery-codes"),
    path("two-factor/passkeys/add/", two_factor_views.passkey_add, name="passkey-add"),
    path("two-factor/passkeys/<int:pk>/remove/", two_factor_views.passkey_remove, name="passkey-remove"),
]
