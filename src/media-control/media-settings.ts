// The settings the media child process runs with, mapped from the app's config
// (config.ts holds the defaults): the supervisor sends them over IPC at each start.
import type { Config } from '../config.ts';
import type { MediaSettings } from '../media/ipc.ts';

/** A WHIP publisher is asked for a keyframe this often (the bridge's ffmpeg can only start on one). */
const WHIP_PLI_EVERY_MS = 2000;

/** `ports`: where media listens now (the configured ports, or the real ones a first start on port 0 got). */
export function mediaSettings(config: Config, ports: { rtmp: number; http: number }, nodeId: string): MediaSettings {
  const ice = {
    iceHostAddresses: config.WEBRTC_ICE_HOST_ADDRESSES.split(',').map((a) => a.trim()).filter(Boolean),
    ...(config.WEBRTC_ICE_PORT_MIN > 0 ? { icePortRange: [config.WEBRTC_ICE_PORT_MIN, config.WEBRTC_ICE_PORT_MAX] as [number, number] } : {}),
  };
  return {
    host: config.HOST,
    rtmpPort: ports.rtmp,
    httpPort: ports.http,
    dataDir: config.dataDir,
    logLevel: config.LOG_LEVEL,
    ffmpegPath: config.FFMPEG_PATH,
    flv: {
      maxViewerBufferBytes: config.FLV_MAX_VIEWER_BUFFER_BYTES,
      maxGopBytes: config.FLV_MAX_GOP_BYTES,
      maxBatchDelayMs: config.FLV_MAX_BATCH_MS,
      maxViewers: config.FLV_MAX_VIEWERS,
    },
    rtmp: {
      maxConnections: config.RTMP_MAX_CONNECTIONS,
      maxConnectionsPerAddress: config.RTMP_MAX_CONNECTIONS_PER_IP,
      reservedConnections: config.RTMP_RESERVED_CONNECTIONS,
      handshakeTimeoutMs: config.RTMP_HANDSHAKE_TIMEOUT_SEC * 1000,
      idleTimeoutMs: config.RTMP_IDLE_TIMEOUT_SEC * 1000,
      maxMessageBytes: config.RTMP_MAX_MESSAGE_BYTES,
      maxCommandBytes: config.RTMP_MAX_COMMAND_BYTES,
      maxChunkStreams: config.RTMP_MAX_CHUNK_STREAMS,
    },
    hls: {
      segmentSec: config.HLS_SEGMENT_SEC,
      listSize: config.HLS_LIST_SIZE,
      viewerWindowMs: config.HLS_VIEWER_WINDOW_SEC * 1000,
      viewersPerAddress: config.HLS_VIEWERS_PER_IP,
      maxBacklogBytes: config.MEDIA_FFMPEG_MAX_BACKLOG_BYTES,
    },
    thumbnail: { everyMs: config.THUMBNAIL_EVERY_SEC * 1000, widthPx: config.THUMBNAIL_WIDTH_PX },
    httpRequestTimeoutMs: config.MEDIA_HTTP_REQUEST_TIMEOUT_MS,
    webrtcMaxOffersPerAddress: config.WEBRTC_MAX_OFFERS_PER_ADDRESS,
    whip: {
      maxSessions: config.WHIP_MAX_SESSIONS,
      maxSdpBytes: config.WHIP_MAX_SDP_BYTES,
      sdpReadTimeoutMs: config.WEBRTC_SDP_READ_TIMEOUT_MS,
      videoKbps: config.WHIP_VIDEO_KBPS,
      startTimeoutMs: config.WHIP_START_TIMEOUT_SEC * 1000,
      pliEveryMs: WHIP_PLI_EVERY_MS,
      ...ice,
    },
    whep: {
      maxViewers: config.WHEP_MAX_VIEWERS,
      maxSdpBytes: config.WHIP_MAX_SDP_BYTES,
      sdpReadTimeoutMs: config.WEBRTC_SDP_READ_TIMEOUT_MS,
      videoKbps: config.WHEP_VIDEO_KBPS,
      connectTimeoutMs: config.WHIP_START_TIMEOUT_SEC * 1000,
      idleStopMs: config.WHEP_IDLE_STOP_SEC * 1000,
      maxBacklogBytes: config.MEDIA_FFMPEG_MAX_BACKLOG_BYTES,
      ...ice,
    },
    viewersReportMs: config.MEDIA_VIEWERS_REPORT_SEC * 1000,
    nodeId,
    edge: {
      idleMs: config.MEDIA_EDGE_IDLE_SEC * 1000,
      timeoutMs: config.MEDIA_EDGE_TIMEOUT_MS,
      hlsCacheBytes: config.MEDIA_EDGE_HLS_CACHE_BYTES,
      // a room that moved to another node is found again within a heartbeat
      locateCacheMs: Math.min(2000, config.MEDIA_HEARTBEAT_SEC * 1000),
    },
    ipcTimeoutMs: config.MEDIA_IPC_TIMEOUT_MS,
  };
}
