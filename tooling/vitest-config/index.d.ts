import type { UserConfig } from "vitest/config";
export declare const base: UserConfig;
export declare function config(overrides?: UserConfig): UserConfig;
