import { Injectable } from '@nestjs/common';
import { type EventTypeInfo, getEventType, listEventTypes } from '@tidings/events';
import { NotFoundProblem } from '@tidings/runtime';

/** Serves the catalogue of libs/events as it is: it is the single source of truth (DESIGN.md §4). */
@Injectable()
export class EventTypesService {
  list(): { data: EventTypeInfo[] } {
    return { data: listEventTypes() };
  }

  get(type: string): EventTypeInfo {
    const info = getEventType(type);
    if (!info) throw new NotFoundProblem('Event type', type);
    return info;
  }
}
