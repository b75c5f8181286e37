// Types for the untyped npm packages the test harnesses use.

declare module 'snappyjs' {
  const snappy: {
    compress(input: Uint8Array): Uint8Array;
    uncompress(input: Uint8Array, maxLength?: number): Uint8Array;
  };
  export default snappy;
}

declare module 'lz4js' {
  const lz4: {
    compress(input: Uint8Array, maxSize?: number): Uint8Array;
    decompress(input: Uint8Array, maxSize?: number): Uint8Array;
    /** Compresses src[sIndex, sIndex+sLength) into dst from 0; returns the size, 0 if incompressible. */
    compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  };
  export default lz4;
}

declare module 'lz4js/xxh32.js' {
  const xxh32: { hash(seed: number, src: Uint8Array, index: number, length: number): number };
  export default xxh32;
}

/** kafkajs's own protocol encoders/decoders (CommonJS, untyped), used to build raw requests. */
declare module 'kafkajs/src/protocol/*' {
  const mod: any;
  export default mod;
}
