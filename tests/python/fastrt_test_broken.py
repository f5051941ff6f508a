"""Fails at import: the executor must refuse to start and show this error."""
import fastrt_module_that_does_not_exist  # noqa: F401


def handler(body):
    return body
