/** The `MsgBody` elements the relay sends (Tencent IM message formats). */
export interface TextElem {
  MsgType: 'TIMTextElem';
  MsgContent: { Text: string };
}
export interface LocationElem {
  MsgType: 'TIMLocationElem';
  MsgContent: { Desc: string; Latitude: number; Longitude: number };
}
export interface ImageInfo {
  Type: 1 | 2 | 3;
  Size: number;
  Width: number;
  Height: number;
  URL: string;
}
export interface ImageElem {
  MsgType: 'TIMImageElem';
  MsgContent: { UUID: string; ImageFormat: number; ImageInfoArray: ImageInfo[] };
}
export interface CustomElem {
  MsgType: 'TIMCustomElem';
  MsgContent: { Data: string; Desc: string; Ext: string; Sound: string };
}

/** `Download_Flag` 2: the file is downloaded from `Url` as given (not from IM's own storage). */
export interface SoundElem {
  MsgType: 'TIMSoundElem';
  MsgContent: { Url: string; UUID: string; Size: number; Second: number; Download_Flag: 2 };
}
export interface VideoFileElem {
  MsgType: 'TIMVideoFileElem';
  MsgContent: {
    VideoUrl: string;
    VideoUUID: string;
    VideoSize: number;
    VideoSecond: number;
    VideoFormat: string;
    VideoDownloadFlag: 2;
    ThumbUrl: string;
    ThumbUUID: string;
    ThumbSize: number;
    ThumbWidth: number;
    ThumbHeight: number;
    ThumbFormat: string;
    ThumbDownloadFlag: 2;
  };
}

export type MsgElement = TextElem | LocationElem | ImageElem | SoundElem | VideoFileElem;

/** A recording the client plays from `url` (the relay's own link); `seconds` at least 1, as clients show it. */
export function soundElem(url: string, uuid: string, size: number, seconds: number): SoundElem {
  return { MsgType: 'TIMSoundElem', MsgContent: { Url: url, UUID: uuid, Size: size, Second: Math.max(1, Math.round(seconds)), Download_Flag: 2 } };
}

export interface VideoParts {
  url: string;
  uuid: string;
  /** Bytes and seconds: 0 when unknown (the relay streams the video without reading it first). */
  size: number;
  seconds: number;
  thumb: { url: string; uuid: string; size: number; width: number; height: number; format: string };
}

/** A video the client streams from `url`, with its thumbnail. */
export function videoFileElem(video: VideoParts): VideoFileElem {
  const { thumb } = video;
  return {
    MsgType: 'TIMVideoFileElem',
    MsgContent: {
      VideoUrl: video.url,
      VideoUUID: video.uuid,
      VideoSize: video.size,
      VideoSecond: video.seconds,
      VideoFormat: 'mp4',
      VideoDownloadFlag: 2,
      ThumbUrl: thumb.url,
      ThumbUUID: thumb.uuid,
      ThumbSize: thumb.size,
      ThumbWidth: thumb.width,
      ThumbHeight: thumb.height,
      ThumbFormat: thumb.format,
      ThumbDownloadFlag: 2,
    },
  };
}

export function textElem(text: string): TextElem {
  return { MsgType: 'TIMTextElem', MsgContent: { Text: text } };
}

export function locationElem(desc: string, latitude: number, longitude: number): LocationElem {
  return { MsgType: 'TIMLocationElem', MsgContent: { Desc: desc, Latitude: latitude, Longitude: longitude } };
}

/** Image formats of TIMImageElem: 1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 other. */
export function imageFormatOf(url: string): number {
  const ext = /\.([a-z]+)(?:[?#]|$)/i.exec(url)?.[1]?.toLowerCase();
  return ext === 'jpg' || ext === 'jpeg' ? 1 : ext === 'gif' ? 2 : ext === 'png' ? 3 : ext === 'bmp' ? 4 : 255;
}

/**
 * An image known only by URL (size unknown: 0): the same URL serves as original (1), large (2)
 * and thumbnail (3), which TUIKit clients need to render it.
 */
export function imageElem(uuid: string, url: string): ImageElem {
  const info = (type: 1 | 2 | 3): ImageInfo => ({ Type: type, Size: 0, Width: 0, Height: 0, URL: url });
  return { MsgType: 'TIMImageElem', MsgContent: { UUID: uuid, ImageFormat: imageFormatOf(url), ImageInfoArray: [info(1), info(2), info(3)] } };
}
