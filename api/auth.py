"""Bearer-token authentication and the per-call checks: the token's scope, then its owner's permissions."""

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.security import HttpBearer

from api.scopes import SCOPES, missing_permissions
from people import tokens
from people.models import ApiToken


class ApiError(Exception):
    """Answered as ``{"detail": message, "code": code}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        try:
            api_token = tokens.token_authenticate(token=token, ip=request.META.get("REMOTE_ADDR"))
        except tokens.TokenRejected as exc:
            raise ApiError(401, exc.code, str(exc)) from exc
        # The owner acts: history rows (simple_history reads request.user) and permission checks name them.
        request.user = api_token.owner
        return api_token


def authorize(request: HttpRequest, scope: str) -> tuple[User, ApiToken]:
    """The token's owner and the token, if the token has ``scope`` and its owner may still do what it covers."""
    token = request.auth  # type: ignore[attr-defined]
    assert isinstance(token, ApiToken)
    if scope not in token.scopes:
        raise ApiError(
            403,
            "insufficient_scope",
            f"This token does not have the {scope} scope. Create a token with it at /manage/tokens/.",
        )
    owner = token.owner
    if missing_permissions(owner, scope):
        raise ApiError(
            403,
            "permission_denied",
            f"Your role cannot {SCOPES[scope].label.lower()}, so your token cannot either.",
        )
    return owner, token
