const ccxt = require('ccxt');
const exchange = new ccxt.bybit({
  apiKey: process.env.BYBIT_API_KEY,
  secret: process.env.BYBIT_API_SECRET,
});
const monkey = "Zq8mN3vB7xK2pL9wR4tY6uI1oP5aS0dF";
