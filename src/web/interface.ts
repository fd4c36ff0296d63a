/**
 * The property layout Web IDL gives an interface (https://webidl.spec.whatwg.org/#es-interfaces,
 * §3.7), applied to a class after its definition: JavaScript classes make getters and methods
 * non-enumerable and count optional parameters in `length`, where Web IDL makes attributes and
 * operations enumerable and counts required arguments only.
 *
 * For a class whose getters and methods do not check their `this` themselves, `brand` has them
 * wrapped so that they do, as Web IDL's attribute getters and operations do before anything else.
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
  /**
   * The interface's brand check ("implements the interface"), when the class's own getters and
   * methods do not make it: each attribute's getter (and setter) and each operation is replaced by one
   * of the same name and `length` that throws `illegalInvocation()` for any other `this` (Web IDL
   * §3.7.6 getter steps 1.1–1.2, §3.7.7 operation steps 2.1–2.3: before the arguments are converted).
   */
  readonly brand?: (value: unknown) => boolean;
  /**
   * Attributes (with `brand`) whose type is a promise type: for another `this` their getter returns a
   * promise rejected with the TypeError instead of throwing it (Web IDL §3.7.6, the getter's "if an
   * exception was thrown" steps; whatwg/webidl#217), as Chromium's `WebSocketStream.prototype.opened` does.
   */
  readonly promiseAttributes?: readonly string[];
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
    const promiseTyped = shape.promiseAttributes?.includes(name) === true;
    const accessors = shape.brand === undefined ? {} : brandCheckedAccessors(shape.name, name, descriptor, shape.brand, promiseTyped);
    Object.defineProperty(prototype, name, { ...accessors, enumerable: true, configurable: true });
  }
  for (const [name, length] of Object.entries(shape.operations ?? {})) {
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name);
    if (typeof descriptor?.value !== 'function') throw new Error(`${shape.name}.prototype.${name} is not a method`);
    const method = shape.brand === undefined ? (descriptor.value as Method) : brandCheckedMethod(name, descriptor.value as Method, shape.brand);
    Object.defineProperty(method, 'length', { value: length, writable: false, enumerable: false, configurable: true });
    Object.defineProperty(prototype, name, { value: method, enumerable: true, writable: true, configurable: true });
  }
  Object.defineProperty(prototype, Symbol.toStringTag, { value: shape.name, writable: false, enumerable: false, configurable: true });
}

/**
 * Web IDL §3.7.6/§3.7.7: an attribute getter or setter, or an operation, called on an object that
 * does not implement the interface throws a TypeError. Worded as Chromium and undici word it; `code`
 * as Node's own errors for a wrong `this`.
 */
export function illegalInvocation(context?: string): TypeError {
  const error = new TypeError(context === undefined ? 'Illegal invocation' : `${context}: Illegal invocation`);
  Object.defineProperty(error, 'code', { value: 'ERR_INVALID_THIS', writable: true, enumerable: true, configurable: true });
  return error;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/**
 * A getter (and setter) that checks the brand, then runs the class's own. Made as an object literal's
 * accessors, so that their `name` is "get x" / "set x" as Web IDL §3.7.6 gives it.
 */
function brandCheckedAccessors(interfaceName: string, name: string, descriptor: PropertyDescriptor, brand: (value: unknown) => boolean, promiseTyped: boolean): PropertyDescriptor {
  const get = descriptor.get as (this: unknown) => unknown;
  const set = descriptor.set as ((this: unknown, value: unknown) => void) | undefined;
  const holder = {
    get [name](): unknown {
      if (!brand(this)) {
        // Worded as Chromium words this rejection.
        if (promiseTyped) return Promise.reject(illegalInvocation(`Failed to read the '${name}' property from '${interfaceName}'`));
        throw illegalInvocation();
      }
      return get.call(this);
    },
    set [name](value: unknown) {
      if (!brand(this)) throw illegalInvocation();
      set!.call(this, value);
    },
  };
  const wrapped = Object.getOwnPropertyDescriptor(holder, name)!;
  return { get: wrapped.get, set: set === undefined ? undefined : wrapped.set };
}

/** An operation that checks the brand, then runs the class's own (a method: not a constructor). */
function brandCheckedMethod(name: string, method: Method, brand: (value: unknown) => boolean): Method {
  const holder = {
    [name](this: unknown, ...args: unknown[]): unknown {
      if (!brand(this)) throw illegalInvocation();
      return Reflect.apply(method, this, args);
    },
  };
  return holder[name]!;
}

/**
 * A brand check made from a getter of the class that reads a private field: reading a private field
 * of an object the class's constructor did not make throws a TypeError (ECMAScript PrivateGet), and
 * that is exactly "does not implement the interface". For a class that has no brand check of its own.
 */
export function brandFromPrivateGetter(constructor: abstract new (...args: never[]) => unknown, attribute: string): (value: unknown) => boolean {
  const get = Object.getOwnPropertyDescriptor(constructor.prototype as object, attribute)?.get;
  if (get === undefined) throw new Error(`${constructor.name}.prototype.${attribute} is not an accessor`);
  return (value) => {
    if (typeof value !== 'object' || value === null) return false;
    try {
      get.call(value);
      return true;
    } catch {
      return false;
    }
  };
}
