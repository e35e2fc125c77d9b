// The few browser APIs the pages use, typed here so this code type-checks under the project's
// Node-only tsconfig (adding lib "dom" there would retype timers and `performance` for the whole
// server). Only what is used is declared; the real objects have much more.

export interface ClassListLike {
  add(...names: string[]): void;
  remove(...names: string[]): void;
  toggle(name: string, force?: boolean): boolean;
}

export interface EventLike {
  preventDefault(): void;
  readonly target: unknown;
}

export interface KeyboardEventLike extends EventLike {
  readonly key: string;
  readonly code: string;
  readonly repeat: boolean;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly altKey: boolean;
}

export interface ElementLike {
  textContent: string | null;
  className: string;
  readonly classList: ClassListLike;
  readonly style: Record<string, string>;
  title: string;
  addEventListener(type: string, fn: (ev: EventLike) => void, opts?: unknown): void;
  focus(): void;
  append(...nodes: Array<ElementLike | string>): void;
  replaceChildren(...nodes: Array<ElementLike | string>): void;
  setAttribute(name: string, value: string): void;
}

export interface InputLike extends ElementLike {
  value: string;
  disabled: boolean;
  required: boolean;
  autocomplete: string;
}

export interface CanvasLike extends ElementLike {
  width: number;
  height: number;
  readonly clientWidth: number;
  readonly clientHeight: number;
  getContext(kind: '2d', opts?: { alpha?: boolean }): Context2D | null;
}

export interface Context2D {
  fillStyle: string;
  strokeStyle: string;
  lineWidth: number;
  font: string;
  textAlign: string;
  textBaseline: string;
  globalAlpha: number;
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void;
  fillRect(x: number, y: number, w: number, h: number): void;
  clearRect(x: number, y: number, w: number, h: number): void;
  beginPath(): void;
  closePath(): void;
  moveTo(x: number, y: number): void;
  lineTo(x: number, y: number): void;
  arc(x: number, y: number, r: number, a0: number, a1: number): void;
  rect(x: number, y: number, w: number, h: number): void;
  fill(): void;
  stroke(): void;
  fillText(text: string, x: number, y: number): void;
  setLineDash(segments: number[]): void;
  save(): void;
  restore(): void;
}

export interface DocumentLike {
  getElementById(id: string): ElementLike | null;
  createElement(tag: string): ElementLike;
  addEventListener(type: string, fn: (ev: EventLike) => void): void;
  readonly visibilityState: string;
}

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface WindowLike {
  readonly document: DocumentLike;
  readonly location: { readonly origin: string; readonly host: string; readonly protocol: string };
  readonly devicePixelRatio: number;
  readonly sessionStorage: StorageLike;
  readonly performance: { now(): number };
  requestAnimationFrame(fn: (now: number) => void): number;
  addEventListener(type: string, fn: (ev: EventLike) => void, opts?: unknown): void;
  setInterval(fn: () => void, ms: number): number;
  setTimeout(fn: () => void, ms: number): number;
  fetch(url: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{
    ok: boolean;
    status: number;
    json(): Promise<unknown>;
  }>;
  /** Read-only debug state for tests and the curious (see docs/web.md). */
  bluemarble?: unknown;
}

export const win = globalThis as unknown as WindowLike;
export const doc = (): DocumentLike => win.document;

/** The element with this id; throws when the page lacks it (a page/bundle mismatch). */
export function byId<T extends ElementLike = ElementLike>(id: string): T {
  const el = win.document.getElementById(id);
  if (!el) throw new Error(`page has no #${id}`);
  return el as T;
}

/** A new element with text content. */
export function el(tag: string, text = '', className = ''): ElementLike {
  const e = win.document.createElement(tag);
  e.textContent = text;
  if (className) e.className = className;
  return e;
}
