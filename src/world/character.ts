// A player's character beyond its pose: health, stamina, level, inventory and skills, and the
// pure rules that change them. Shared by server (authority) and client (display), no Node APIs.
import type { Rng } from './rng.ts';

export interface InventoryItem {
  /** 0-based, unique per player. */
  slot: number;
  itemId: number;
  quantity: number;
  /** 0..1 */
  durability: number;
  /** 0..1 */
  quality: number;
}

export interface SkillRecord {
  skillId: number;
  level: number;
  experience: number;
}

export interface CharacterSheet {
  health: number;
  stamina: number;
  level: number;
  experience: number;
  inventory: InventoryItem[];
  skills: SkillRecord[];
}

export interface ItemDef {
  itemId: number;
  name: string;
  stackSize: number;
  /** Rare items are critical: durable before the player is told of them. */
  rare: boolean;
  /** Relative chance of finding it when foraging (0 = never found that way). */
  forageWeight: number;
}

/** The item catalogue. The database's item_definitions table is seeded from this list. */
export const ITEMS: readonly ItemDef[] = [
  { itemId: 1, name: 'stone', stackSize: 99, rare: false, forageWeight: 40 },
  { itemId: 2, name: 'wood', stackSize: 99, rare: false, forageWeight: 30 },
  { itemId: 3, name: 'berry', stackSize: 20, rare: false, forageWeight: 20 },
  { itemId: 4, name: 'iron ore', stackSize: 50, rare: false, forageWeight: 8 },
  { itemId: 5, name: 'sky gem', stackSize: 1, rare: true, forageWeight: 2 },
];

const ITEM_BY_ID = new Map<number, ItemDef>(ITEMS.map((i) => [i.itemId, i]));
const FORAGE_TOTAL = ITEMS.reduce((s, i) => s + i.forageWeight, 0);

export function itemById(itemId: number): ItemDef | undefined {
  return ITEM_BY_ID.get(itemId);
}

export const SkillId = { Foraging: 1 } as const;

/** Inventory slots a character has. */
export const INVENTORY_SLOTS = 32;
export const MAX_HEALTH = 100;
export const MAX_STAMINA = 100;
/** Experience for one successful forage (character and foraging skill alike). */
export const FORAGE_XP = 5;

export function newCharacterSheet(): CharacterSheet {
  return { health: MAX_HEALTH, stamina: MAX_STAMINA, level: 1, experience: 0, inventory: [], skills: [] };
}

/** Level reached with `experience` points: 100 xp for level 2, each next level 50 % dearer. */
export function levelForExperience(experience: number): number {
  let level = 1;
  let need = 100;
  let xp = experience;
  while (xp >= need && level < 100) {
    xp -= need;
    level++;
    need = Math.ceil(need * 1.5);
  }
  return level;
}

/** Which item a forage finds, drawn from the catalogue's weights. */
export function forageItem(rng: Rng): ItemDef {
  let r = rng.next() * FORAGE_TOTAL;
  for (const item of ITEMS) {
    r -= item.forageWeight;
    if (r < 0) return item;
  }
  return ITEMS[0]!;
}

/**
 * Adds `quantity` of an item: tops up existing stacks first (lowest slot first), then fills free
 * slots. Returns the quantity that did not fit (0 when all of it did). Mutates `inventory`, kept
 * sorted by slot.
 */
export function addItem(inventory: InventoryItem[], item: ItemDef, quantity: number): number {
  let left = quantity;
  for (const stack of inventory) {
    if (left === 0) break;
    if (stack.itemId !== item.itemId || stack.quantity >= item.stackSize) continue;
    const take = Math.min(left, item.stackSize - stack.quantity);
    stack.quantity += take;
    left -= take;
  }
  while (left > 0) {
    const slot = freeSlot(inventory);
    if (slot < 0) break;
    const take = Math.min(left, item.stackSize);
    inventory.push({ slot, itemId: item.itemId, quantity: take, durability: 1, quality: 1 });
    left -= take;
  }
  inventory.sort((a, b) => a.slot - b.slot);
  return left;
}

function freeSlot(inventory: InventoryItem[]): number {
  const used = new Set(inventory.map((i) => i.slot));
  for (let s = 0; s < INVENTORY_SLOTS; s++) if (!used.has(s)) return s;
  return -1;
}

/** Grants experience to the character and to one skill; updates levels. */
export function grantExperience(sheet: CharacterSheet, skillId: number, xp: number): void {
  sheet.experience += xp;
  sheet.level = levelForExperience(sheet.experience);
  let skill = sheet.skills.find((s) => s.skillId === skillId);
  if (!skill) {
    skill = { skillId, level: 1, experience: 0 };
    sheet.skills.push(skill);
    sheet.skills.sort((a, b) => a.skillId - b.skillId);
  }
  skill.experience += xp;
  skill.level = levelForExperience(skill.experience);
}
