/**
 * The property layout Web IDL gives an interface (https://webidl.spec.whatwg.org/#es-interfaces,
 * §3.7), applied to a class after its definition: JavaScript classes make getters and methods
 * non-enumerable and count optional parameters in `length`, where Web IDL makes attributes and
 * operations enumerable and counts required arguments only.
 */

/** What one interface needs fixed on its class and prototype. */
export interface InterfaceShape {
  /** The interface's name: its `Symbol.toStringTag` and the constructor's `name`. */
  readonly name: string;
  /** Required arguments of the constructor (Web IDL §3.7.1: the interface object's `length`). */
  readonly length: number;
  /** Attributes: accessor properties on the prototype (§3.7.6), made enumerable. */
  readonly attributes: readonly string[];
  /** Operations and their required argument counts (§3.7.7: `length` is the shortest overload's). */
  readonly operations?: Readonly<Record<string, number>>;
}

/**
 * Web IDL §3.7: attributes and operations enumerable and configurable (operations writable too),
 * each function's `length` its count of required arguments, and `Symbol.toStringTag` a data property
 * of the prototype (§3.7.3 "class string": not writable, not enumerable, configurable).
 */
export function defineInterfaceShape(constructor: abstract new (...args: never[]) => unknown, shape: InterfaceShape): void {
  const prototype = constructor.prototype as object;
  Object.defineProperty(constructor, 'name', { value: shape.name, writable: false, enumerable: false, configurable: true });
  Object.defineProperty(constructor, 'length', { value: shape.length, writable: false, enumerable: false, configurable: true });
  for (const name of shape.attributes) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    if (descriptor?.get === undefined) throw new Error(`${shape.name}.prototype.${name} is not an accessor`);
    Object.defineProperty(prototype, name, { enumerable: true });
  }
  for (const [name, length] of Object.entries(shape.operations ?? {})) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    if (typeof descriptor?.value !== 'function') throw new Error(`${shape.name}.prototype.${name} is not a method`);
    Object.defineProperty(descriptor.value, 'length', { value: length, writable: false, enumerable: false, configurable: true });
    Object.defineProperty(prototype, name, { enumerable: true, writable: true, configurable: true });
  }
  Object.defineProperty(prototype, Symbol.toStringTag, { value: shape.name, writable: false, enumerable: false, configurable: true });
}

/**
 * Web IDL §3.7.6/§3.7.7: an attribute getter or setter, or an operation, called on an object that
 * does not implement the interface throws a TypeError. Worded as Chromium and undici word it; `code`
 * as Node's own errors for a wrong `this`.
 */
export function illegalInvocation(): TypeError {
  const error = new TypeError('Illegal invocation');
  Object.defineProperty(error, 'code', { value: 'ERR_INVALID_THIS', writable: true, enumerable: true, configurable: true });
  return error;
}
