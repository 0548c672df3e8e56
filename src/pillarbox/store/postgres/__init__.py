"""store/postgres: the scale-out backend (several nodes share one database)"""
