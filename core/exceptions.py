class ApplicationError(Exception):
    """A business rule said no. The API answers it as {"error": {code, message, details}}.

    `status` is the HTTP status the API uses: 422 when the request was understood but cannot be
    carried out, 409 when it conflicts with what already happened, 404 when something is not there.
    """

    def __init__(self, message: str, *, code: str = "invalid", status: int = 422, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.extra = extra or {}
