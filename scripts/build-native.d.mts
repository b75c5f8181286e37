/** Types of build-native.mjs (plain JavaScript so that ensure-deps can run it on any Node). */
export declare const NATIVE_ADDON: string;
/** Builds broker/native/build/brook_native.node if needed; false when it could not and `required` is false. */
export declare function buildNative(opts?: { required?: boolean }): boolean;
