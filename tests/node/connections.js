// Node.js (libuv: every descriptor closed with syscall(SYS_close)): 35 client connections to
// the TCP server on 127.0.0.1:PORT (argv[2], the test's), 30 of them destroyed once connected
// and 5 kept on purpose. Prints its ground truth: `FDLEAK_KEPT` (the kept connections'
// descriptors) and `FDLEAK_OPEN` (/proc/self/fd at its end), then exits through process.exit().
'use strict';
const fs = require('fs');
const net = require('net');

const TOTAL = 35, KEEP = 5;
const kept = [];

function openFds() {
  return fs.readdirSync('/proc/self/fd').map(Number).filter((fd) => {
    try { fs.fstatSync(fd); return true; } catch (e) { return false; } // the listing's own
  }).sort((a, b) => a - b);
}

const port = Number(process.argv[2]);
{
  const next = (i) => {
    if (i === TOTAL) return finish();
    const c = net.connect(port, '127.0.0.1', () => {
      if (i < KEEP) {
        kept.push(c);
      } else {
        c.destroy();
      }
      next(i + 1);
    });
    c.on('error', () => {});
  };
  const finish = () => {
    console.log('FDLEAK_KEPT ' + kept.map((c) => c._handle.fd).join(' '));
    console.log('FDLEAK_OPEN ' + openFds().join(' '));
    process.exit(0);
  };
  next(0);
}
