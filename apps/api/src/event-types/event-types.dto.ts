import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class EventTypeVersionDto {
  @ApiProperty({ example: 2 })
  version!: number;
  @ApiProperty()
  description!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON Schema (2020-12) of `data`' })
  jsonSchema!: Record<string, unknown>;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'An example `data` that validates',
  })
  example!: Record<string, unknown>;
  @ApiProperty()
  deprecated!: boolean;
  @ApiPropertyOptional({ format: 'date', description: 'After this date the version is no longer delivered' })
  sunset?: string;
}

export class EventTypeDto {
  @ApiProperty({ example: 'order.created' })
  type!: string;
  @ApiProperty({ example: 'order' })
  resourceType!: string;
  @ApiProperty()
  description!: string;
  @ApiProperty({ example: 2 })
  latestVersion!: number;
  @ApiProperty({ type: [EventTypeVersionDto] })
  versions!: EventTypeVersionDto[];
}

export class EventTypeListDto {
  @ApiProperty({ type: [EventTypeDto] })
  data!: EventTypeDto[];
}
