// Messages between the supervisor (API side) and the media child process.
// Shared: imported by the media child and by src/media-control/ (API process).
// The child never touches the database: it asks, the supervisor answers.

/** What the child needs to run; sent once, right after the fork. */
export interface MediaSettings {
  host: string;
  rtmpPort: number;
  httpPort: number;
  dataDir: string;
  logLevel: string;
  ffmpegPath?: string;
  flv: { maxViewerBufferBytes: number; maxGopBytes: number; maxBatchDelayMs: number; maxViewers: number };
  rtmp: { maxConnections: number; maxConnectionsPerAddress: number; reservedConnections: number; handshakeTimeoutMs: number; idleTimeoutMs: number; maxMessageBytes: number; maxCommandBytes: number; maxChunkStreams: number };
  hls: { segmentSec: number; listSize: number; viewerWindowMs: number; viewersPerAddress: number; maxBacklogBytes: number };
  thumbnail: { everyMs: number; widthPx: number };
  /** The whole request (headers and body) must arrive within this on the playback/WebRTC port (GET streams are not cut: their request is complete at once). */
  httpRequestTimeoutMs: number;
  whip: WhipSettings;
  whep: WhepSettings;
  /** WHIP and WHEP offers being read or answered at once per client address. */
  webrtcMaxOffersPerAddress: number;
  viewersReportMs: number;
  /** This node's name in the cluster (sent with an edge's pulls). */
  nodeId: string;
  edge: EdgeSettings;
  /** Questions to the supervisor fail after this. */
  ipcTimeoutMs: number;
}

/** Serving rooms published on other nodes. */
export interface EdgeSettings {
  /** A pull stops this long after its last viewer left. */
  idleMs: number;
  /** The origin must answer a pull within this; a pull that gets no bytes this long ends. */
  timeoutMs: number;
  /** Bytes of HLS playlists and segments an edge keeps. */
  hlsCacheBytes: number;
  /** How long the answer to "which node holds this room" is reused. */
  locateCacheMs: number;
}

/** Where werift's ICE gathers candidates (WHIP and WHEP alike). */
export interface IceSettings {
  iceHostAddresses: string[];
  icePortRange?: [number, number];
}

export interface WhipSettings extends IceSettings {
  maxSessions: number;
  maxSdpBytes: number;
  /** The SDP body must have arrived this long after the offer was authorized. */
  sdpReadTimeoutMs: number;
  videoKbps: number;
  startTimeoutMs: number;
  pliEveryMs: number;
}

export interface WhepSettings extends IceSettings {
  maxViewers: number;
  maxSdpBytes: number;
  sdpReadTimeoutMs: number;
  videoKbps: number;
  /** A viewer that is not connected this long after its answer is dropped. */
  connectTimeoutMs: number;
  /** A room's feed ffmpeg stops this long after its last viewer left. */
  idleStopMs: number;
  maxBacklogBytes: number;
}

export type AuthorizeAnswer = { ok: true; roomId: string; record: boolean } | { ok: false; reason: string };
export type StartedAnswer = { sessionId: string };
/** The media HTTP base URL of the node that holds the room's publisher, when that is another node. */
export type LocateAnswer = { originUrl: string | null };

/** Questions the child asks; each gets one `answer` with the same id. */
export type MediaRequest = { op: 'authorize'; key: string } | { op: 'started'; roomId: string; record: boolean } | { op: 'locate'; roomId: string };

export type ChildMessage =
  | { t: 'ready'; rtmpPort: number; httpPort: number }
  | ({ t: 'ask'; id: number } & MediaRequest)
  /** The publisher of a live room is gone (its connection closed). */
  | { t: 'stopped'; roomId: string }
  /** Players per room on this node (rooms it is the origin or an edge of): FLV/WS-FLV, HLS and WHEP. Rooms not listed have none. */
  | { t: 'viewers'; flv: Record<string, number>; hls: Record<string, number>; whep: Record<string, number>; edgePulls: number }
  | { t: 'preview'; roomId: string }
  /** An ffmpeg the child started or saw exit (the supervisor kills leftovers if the child dies). */
  | { t: 'ffmpeg'; pid: number; running: boolean }
  | { t: 'fatal'; message: string };

export type ParentMessage =
  | { t: 'init'; settings: MediaSettings }
  | { t: 'answer'; id: number; ok: true; value: unknown }
  | { t: 'answer'; id: number; ok: false; error: string }
  /** Disconnect the room's publisher and close its WHIP sessions, answered or not yet publishing (broadcast ended by its owner, or key rotated). */
  | { t: 'kick'; roomId: string; reason: string }
  | { t: 'shutdown' };
