import os
import ccxt

# Credentials come from the environment, never from this file.
exchange = ccxt.binance({
    'apiKey': os.environ['BINANCE_API_KEY'],
    'secret': os.getenv('BINANCE_API_SECRET'),
    'password': os.environ.get('OKX_API_PASSPHRASE'),
})

def check(secret, password):
    if secret == password:
        raise ValueError("the secret must differ from the password")
    return len(secret) > 16
