"""Small shared helpers (atomic files, seeding)."""
from .io import RunCheckpoint, atomic_save, atomic_save_npy, atomic_write_text, file_lock, load_checkpoint
from .memory import peak_rss_mib, retain_freed_memory
from .seed import generator_states, seed_everything, set_generator_states

__all__ = ["RunCheckpoint", "atomic_save", "atomic_save_npy", "atomic_write_text", "file_lock", "load_checkpoint", "peak_rss_mib",
           "retain_freed_memory", "seed_everything", "generator_states", "set_generator_states"]
