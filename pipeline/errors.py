"""The errors a run explains to the user in one line: our own, which name the file or feature
and the problem, found inside whatever Beam or TFX wrapped them in."""
from typing import Optional

from components.anomalies_gate import DataAnomaliesError
from components.drift_gate import DataDriftError
from components.imdb_reader import IngestError
from components.spans import SpanError

EXPLAINED = (IngestError, DataAnomaliesError, DataDriftError, SpanError)


def explained(error: BaseException) -> BaseException:
    """Our own error if one is in `error`'s chain of causes, else `error`."""
    seen = set()
    cause: Optional[BaseException] = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, EXPLAINED):
            return cause
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return error
