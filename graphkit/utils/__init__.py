"""Small shared helpers (atomic files, seeding)."""
from .io import atomic_save, atomic_save_npy, atomic_write_text, load_checkpoint
from .memory import peak_rss_mib
from .seed import seed_everything

__all__ = ["atomic_save", "atomic_save_npy", "atomic_write_text", "load_checkpoint", "peak_rss_mib", "seed_everything"]
