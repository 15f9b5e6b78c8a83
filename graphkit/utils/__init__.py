"""Small shared helpers: atomic files, seeding, memory, sizes, fingerprints."""
from .fingerprint import fingerprint
from .io import atomic_save, atomic_save_npy, atomic_write_text, file_lock, load_checkpoint
from .memory import peak_rss_mib, retain_freed_memory
from .seed import generator_states, seed_everything, set_generator_states
from .units import parse_bytes

__all__ = ["atomic_save", "atomic_save_npy", "atomic_write_text", "file_lock", "fingerprint", "load_checkpoint",
           "parse_bytes", "peak_rss_mib", "retain_freed_memory", "seed_everything", "generator_states",
           "set_generator_states"]
