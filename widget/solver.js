/* optin widget: ALTCHA proof-of-work solver, loaded on first focus of a form.
 * Finds n with SHA-256(salt + n) == challenge, in slices that keep the page responsive.
 * Pure JavaScript (no crypto.subtle), so it also works on pages that are not a secure context. */
(function (w) {
  "use strict";
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var W = new Int32Array(64);
  var H = new Int32Array(8);

  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }

  function block(bytes, off) {
    var i, a, b, c, d, e, f, g, h, t1, t2;
    for (i = 0; i < 16; i++) {
      W[i] = (bytes[off + 4 * i] << 24) | (bytes[off + 4 * i + 1] << 16) | (bytes[off + 4 * i + 2] << 8) | bytes[off + 4 * i + 3];
    }
    for (i = 16; i < 64; i++) {
      var x = W[i - 15], y = W[i - 2];
      W[i] = (W[i - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[i - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
    }
    a = H[0]; b = H[1]; c = H[2]; d = H[3]; e = H[4]; f = H[5]; g = H[6]; h = H[7];
    for (i = 0; i < 64; i++) {
      t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }

  // SHA-256 of an ASCII string into H.
  function sha256(text) {
    var n = text.length, total = ((n + 9 + 63) >> 6) << 6, bytes = new Uint8Array(total), i;
    for (i = 0; i < n; i++) bytes[i] = text.charCodeAt(i);
    bytes[n] = 0x80;
    var bits = n * 8;
    bytes[total - 4] = bits >>> 24; bytes[total - 3] = bits >>> 16; bytes[total - 2] = bits >>> 8; bytes[total - 1] = bits;
    for (i = 0; i < 8; i++) H[i] = IV[i];
    for (i = 0; i < total; i += 64) block(bytes, i);
  }

  function words(hex) {
    var out = new Int32Array(8);
    for (var i = 0; i < 8; i++) out[i] = parseInt(hex.substr(8 * i, 8), 16) | 0;
    return out;
  }

  // Resolves with the base64 payload the server expects, or rejects when no number fits.
  w.optinSolve = function (c) {
    var target = words(c.challenge), max = c.maxnumber, n = 0;
    return new Promise(function (resolve, reject) {
      function slice() {
        var stop = Math.min(n + 20000, max + 1);
        for (; n < stop; n++) {
          sha256(c.salt + n);
          if (H[0] === target[0] && H[1] === target[1] && H[2] === target[2] && H[3] === target[3] &&
              H[4] === target[4] && H[5] === target[5] && H[6] === target[6] && H[7] === target[7]) {
            return resolve(w.btoa(JSON.stringify({
              algorithm: c.algorithm, challenge: c.challenge, number: n, salt: c.salt, signature: c.signature
            })));
          }
        }
        if (n > max) return reject(new Error("no solution"));
        setTimeout(slice, 0);
      }
      slice();
    });
  };
})(window);
