"""Where the bot's services are: set once by main.py from its command line."""
REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379
API_URL = "http://127.0.0.1:8081"
