// Where a fan-out's FLV tags come from: the local broadcast of a publisher on
// this node (an origin), or an HTTP-FLV pull from the node that holds the
// publisher (an edge). Both hand over the same pieces: the file header, then
// metadata, sequence headers and the GOP so far, then every tag.
import http from 'node:http';
import { FlvReader } from './flv-reader.ts';
import { internalSubscriber, type NmsBroadcast } from './rtmp-ingest.ts';

export interface TagSink {
  tag(tag: Buffer): void;
  /** The source ended (the publisher left, or the origin's stream stopped or failed). */
  closed(): void;
}

export interface StreamSource {
  /** Starts delivery; throws when it cannot start at all. */
  open(sink: TagSink): void;
  /** Stops delivery; the sink hears nothing more. */
  close(): void;
  /** Bytes sent to viewers, for node-media-server's session stats (origin only). */
  countOut(bytes: number): void;
}

/** A publisher's broadcast on this node. */
export function broadcastSource(broadcast: NmsBroadcast): StreamSource & { broadcast: NmsBroadcast } {
  const session = internalSubscriber(broadcast.streamPath);
  return {
    broadcast,
    open(sink) {
      session.sendBuffer = (tag: Buffer) => sink.tag(tag);
      session.close = () => sink.closed();
      const err = broadcast.postPlay(session);
      if (err) throw new Error(`subscribing to the broadcast failed: ${err}`);
    },
    close() {
      session.sendBuffer = () => {};
      session.close = () => {};
      broadcast.donePlay(session);
    },
    countOut(bytes) {
      session.outBytes += bytes;
    },
  };
}

/** Marks a pull as an edge's, so the origin does not count it as a viewer. */
export const EDGE_HEADER = 'x-liveroom-edge';
/** Marks a node's own WHEP feed reading its FLV over loopback: neither a viewer nor an edge. */
export const FEED_HEADER = 'x-liveroom-feed';

export interface PullOptions {
  /** The origin's FLV URL for the room. */
  url: string;
  /** This node's id, sent in EDGE_HEADER. */
  nodeId: string;
  /** The origin must answer within this, and a pull that gets no bytes for this long ends (a stalled origin). */
  timeoutMs: number;
}

/** An edge's one pull of a room's HTTP-FLV from its origin, whatever its viewer count. */
export function pullSource(opts: PullOptions): StreamSource {
  let req: http.ClientRequest | undefined;
  let done = false;
  return {
    open(sink) {
      const finish = () => {
        if (done) return;
        done = true;
        req?.destroy();
        sink.closed();
      };
      const reader = new FlvReader((tag) => {
        if (!done) sink.tag(tag);
      });
      req = http.get(opts.url, { headers: { [EDGE_HEADER]: opts.nodeId }, timeout: opts.timeoutMs }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return finish();
        }
        res.on('data', (chunk: Buffer) => {
          try {
            reader.push(chunk);
          } catch {
            finish();
          }
        });
        res.once('end', finish);
        res.once('error', finish);
        res.once('close', finish);
      });
      req.once('timeout', finish);
      req.once('error', finish);
    },
    close() {
      done = true;
      req?.destroy();
    },
    countOut() {},
  };
}
