import ccxt

exchange = ccxt.okx({
    'apiKey': '5f2b9c1e-3a7d-4e8f-9b0c-1d2e3f4a5b6c',
    'secret': 'A1B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6',
    'password': 'Tr4d1ngPass!',
})
