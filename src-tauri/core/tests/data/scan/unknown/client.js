const ccxt = require('ccxt');
const bybit = new ccxt.bybit({
  apiKey: 'Xy7Kp2Lm9Qr4St6Uv1',
  secret: 'Ab3Cd5Ef7Gh9Ij1Kl3Mn5Op7Qr9St1Uv3Wx5',
});
