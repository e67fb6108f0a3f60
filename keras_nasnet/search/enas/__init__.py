"""Weight-sharing search (ENAS): the supernet and its shared ops, the trainer of the shared
weights, the search loop with its state and derive step, and its report."""

from .loop import (
    ARRAYS_FILE,
    DERIVE_FILE,
    HISTORY_FILE,
    STATE_DIR,
    STATE_FILE,
    EnasResult,
    EnasSearch,
    clear_state,
    load_dataset,
    read_state,
    search_shared,
)
from .report import REPORT_FILE, write_report
from .supernet import Supernet, enas_space
from .trainer import SharedSettings, SharedTrainer

__all__ = [
    "ARRAYS_FILE",
    "DERIVE_FILE",
    "HISTORY_FILE",
    "REPORT_FILE",
    "STATE_DIR",
    "STATE_FILE",
    "EnasResult",
    "EnasSearch",
    "SharedSettings",
    "SharedTrainer",
    "Supernet",
    "clear_state",
    "enas_space",
    "load_dataset",
    "read_state",
    "search_shared",
    "write_report",
]
