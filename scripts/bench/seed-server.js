// seed-server.js - the seed blog post's SseServer (express + ssestream),
// as written there, plus the POST /publish route a benchmark needs. It is
// the baseline ssehub is measured against, so it stays as the post has it:
// one SseStream per client, announce() writing to each in turn.
//
//   node seed-server.js PORT [MAX_CONNECTIONS]
'use strict';
const express = require('express');
const SseStream = require('ssestream').default || require('ssestream');

class SseServer {
  constructor(options) {
    this.sseConnections = new Set();
    this.maxConnections = options.maxConnections || Infinity;
    this.middleWare = this.middleWare.bind(this);
    this.announce = this.announce.bind(this);
  }

  middleWare() {
    return (req, res) => {
      const sseConnections = this.sseConnections;
      if (sseConnections.size >= this.maxConnections) {
        return res.status(429).send();
      }
      const sse = new SseStream(req);
      sse.pipe(res);
      const metaData = [sse, req, res];
      sseConnections.add(metaData);
      req.on('close', function () {
        sseConnections.delete(metaData);
      });
    };
  }

  announce(data) {
    this.sseConnections.forEach((meta) => {
      meta[0].write({ data });
    });
  }
}

const port = Number(process.argv[2] || 8888);
const max = Number(process.argv[3] || 0) || Infinity;
const app = express();
const server = new SseServer({ maxConnections: max });

app.use('/sse', server.middleWare());
app.post('/publish', express.text({ type: '*/*', limit: '2mb' }), (req, res) => {
  server.announce(req.body);
  res.status(200).json({ clients: server.sseConnections.size });
});

app.listen(port, '127.0.0.1', () => {
  console.error(`seed-server: listening on http://127.0.0.1:${port}/`);
});
