"""Small shared helpers (atomic files, seeding)."""
from .io import RunCheckpoint, atomic_save, atomic_save_npy, atomic_write_text, file_lock, load_checkpoint
from .memory import peak_rss_mib, retain_freed_memory
from .seed import seed_everything

__all__ = ["RunCheckpoint", "atomic_save", "atomic_save_npy", "atomic_write_text", "file_lock", "load_checkpoint", "peak_rss_mib",
           "retain_freed_memory", "seed_everything"]
