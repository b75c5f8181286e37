/** The cache root: $BROOK_CACHE_DIR, else ~/.cache/brook (or $XDG_CACHE_HOME/brook). */
export function cacheDir(): string;
