"""Task registrations, one module per corpus; importing them registers the tasks."""
from code_t5.tasks import codesearchnet  # noqa: F401
from code_t5.tasks import conala  # noqa: F401
from code_t5.tasks import flcc  # noqa: F401
from code_t5.tasks import wikitext  # noqa: F401
